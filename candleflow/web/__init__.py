"""Web layer: UDF views, SSE live bars, health, metrics, OpenAPI and the static frontend.

Importing this package registers every view on the Faust app's web server (the app
autodiscovers `candleflow.web`): `routing` installs the middleware, each module below
registers its routes.
"""

from candleflow.web import health, indicators, openapi, sse, static, streams, udf

__all__ = ["health", "indicators", "openapi", "sse", "static", "streams", "udf"]
