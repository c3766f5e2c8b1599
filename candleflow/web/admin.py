"""The admin surface on a port of its own: `/metrics`, `/healthz` in full, `/livez`.

With `CANDLEFLOW_ADMIN_PORT` set, a web process serves a second, small application on
`CANDLEFLOW_ADMIN_HOST` (127.0.0.1 by default) and that port: Prometheus' scrape and the
detailed health (the Kafka address, raw errors, each feed's state) are there and no
longer on the web port, whose `/healthz` keeps the status and a reason for load
balancers and whose `/metrics` is gone (404). It shares the web application's
`WebContext` (the same probes, registry and worker) and needs no token: whoever reaches
the port is the operator, so bind it where only the operator's network can.

Without an admin port the same views are on the web port: `/metrics` for an admin
token, `/healthz` in full for one (anyone while access is open).
"""

from __future__ import annotations

from aiohttp import web

from candleflow.core.settings import Settings
from candleflow.web import health, responses
from candleflow.web.context import CONTEXT
from candleflow.web.guard import ADMIN_APP
from candleflow.web.middleware import udf_middleware

ROUTES = (
    web.get("/metrics", health.metrics),
    web.get("/healthz", health.healthz),
    web.get("/livez", health.livez),
)


def create_admin_app(web_app: web.Application) -> web.Application:
    """The admin application of `web_app` (its context, its worker)."""
    app = web.Application(middlewares=[udf_middleware])
    app[CONTEXT] = web_app[CONTEXT]
    app[ADMIN_APP] = True
    app.add_routes(ROUTES)
    app.on_response_prepare.append(_server_header)
    return app


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = responses.SERVER


async def serve_admin(web_app: web.Application, settings: Settings) -> web.AppRunner:
    """Serve the admin application of `web_app` on the admin host and port."""
    runner = web.AppRunner(create_admin_app(web_app), access_log=None, keepalive_timeout=settings.web_idle_timeout)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.admin_host, settings.admin_port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
