"""Local stand-ins for services candleflow cannot reach from the test machines."""
