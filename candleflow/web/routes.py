"""Every route of the web application, in one table: method, path, view.

`create_web_app` (`candleflow.web.application`) registers exactly these; `/openapi.json`
(`candleflow.web.openapi`) describes every path of this table but the frontend's files.
A GET route also answers HEAD, except the streams (a HEAD of an endless stream is
pointless and would hold a connection).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from candleflow.web import health, indicators, openapi, sse, static, streams, udf

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    view: Handler
    #: A GET route also answers HEAD.
    head: bool = True

    @property
    def name(self) -> str:
        """The route's name: its view's module and function (`candleflow.udf.history`)."""
        return f"candleflow.{self.view.__module__.rsplit('.', 1)[-1]}.{self.view.__name__}"


ROUTES: tuple[Route, ...] = (
    Route("GET", "/udf/config", udf.config),
    Route("GET", "/udf/time", udf.server_time),
    Route("GET", "/udf/symbols", udf.symbols),
    Route("GET", "/udf/search", udf.search),
    Route("GET", "/udf/history", udf.history),
    Route("GET", "/udf/quotes", udf.quotes),
    Route("GET", "/udf/marks", udf.marks),
    Route("GET", "/udf/timescale_marks", udf.timescale_marks),
    Route("GET", "/udf/stream", sse.stream, head=False),
    Route("GET", "/udf/streams", streams.open_streams, head=False),
    Route("POST", "/udf/streams/{stream}/subscribe", streams.subscribe),
    Route("POST", "/udf/streams/{stream}/unsubscribe", streams.unsubscribe),
    Route("GET", "/api/indicators", indicators.indicators),
    Route("GET", "/api/functions", indicators.catalogue),
    Route("GET", "/healthz", health.healthz),
    Route("GET", "/metrics", health.metrics),
    Route("GET", "/openapi.json", openapi.openapi),
    Route("GET", "/", static.index),
    Route("GET", "/grid", static.grid),
    Route("GET", "/assets/{path:.+}", static.assets),
    Route("GET", static.ROOT_FILE, static.root_file),
)
#: The routes `/openapi.json` leaves out: the frontend's files beside its page.
UNDOCUMENTED = frozenset({"/grid", "/assets/{path:.+}", static.ROOT_FILE})


def add_routes(app: web.Application, routes: tuple[Route, ...] = ROUTES) -> None:
    for route in routes:
        if route.method == "GET":
            app.router.add_get(route.path, route.view, name=route.name, allow_head=route.head)
        else:
            app.router.add_route(route.method, route.path, route.view, name=route.name)
