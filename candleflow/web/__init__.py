"""Web layer: UDF views, SSE live bars, health, metrics, OpenAPI and the static frontend,
built into one aiohttp application by `candleflow.web.application.create_web_app` from
the routes each view module declares (`candleflow.web.routes` gathers them). Importing it registers nothing."""
