"""candleflow.sources"""
