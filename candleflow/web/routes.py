"""Every route of the web application: each view module declares its own, beside its
views, with aiohttp's `RouteTableDef` (`@ROUTES.get(path)`); `TABLES` gathers them.

`create_web_app` (`candleflow.web.application`) registers exactly these, one way;
`/openapi.json` (`candleflow.web.openapi`) describes every one of them but the frontend's
files (`UNDOCUMENTED`). A GET route also answers HEAD, except the streams and the replay
(a HEAD of a stream is pointless and would hold a connection).
"""

from __future__ import annotations

from aiohttp import web

from candleflow.web import health, indicators, openapi, replay, replay_controls, sse, static, streams, udf
from candleflow.web.rules import Rule, rule_of

TABLES: tuple[web.RouteTableDef, ...] = (
    udf.ROUTES,
    sse.ROUTES,
    streams.ROUTES,
    replay.ROUTES,
    replay_controls.ROUTES,
    indicators.ROUTES,
    health.ROUTES,
    openapi.ROUTES,
    static.ROUTES,
)
#: The routes `/openapi.json` leaves out: the frontend's files and pages beside its chart page.
UNDOCUMENTED = frozenset(route.path for route in static.ROUTES if isinstance(route, web.RouteDef) and route.path != "/")


def routes() -> list[tuple[str, str]]:
    """(method, path) of every route."""
    return [(route.method, route.path) for table in TABLES for route in table if isinstance(route, web.RouteDef)]


def route_rules() -> dict[tuple[str, str], Rule | None]:
    """(method, path) -> the access rule its view carries (`candleflow.web.rules`; None: none)."""
    return {
        (route.method, route.path): rule_of(route.handler)
        for table in TABLES
        for route in table
        if isinstance(route, web.RouteDef)
    }


def add_routes(app: web.Application) -> None:
    for table in TABLES:
        app.add_routes(table)


def add_health_routes(app: web.Application) -> None:
    """Only `/healthz`, `/livez` and `/metrics`: the web port of an engine process
    (`CANDLEFLOW_ROLE=engine`), which serves no chart."""
    app.add_routes(health.ROUTES)
