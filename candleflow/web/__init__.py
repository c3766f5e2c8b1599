"""Web layer: UDF views, SSE live bars, health, metrics, OpenAPI and the static frontend,
built into one aiohttp application by `candleflow.web.application.create_web_app` from
the route table of `candleflow.web.routes`. Importing it registers nothing."""
