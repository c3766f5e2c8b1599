"""Web layer: UDF views, SSE live bars, health, metrics, OpenAPI and the static frontend."""
