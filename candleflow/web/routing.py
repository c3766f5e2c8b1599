"""Binds the web layer to the Faust app: `page` registers a view, plus the shared pieces.

Views are plain `async def handler(request) -> StreamResponse` functions; `page` adds
each to the router of the worker's aiohttp application (Faust's web server) for GET and
HEAD, as `add_get` does for the SSE routes. Faust's own `app.page` would wrap each in a
`faust.web.View`, whose dispatch and web sensors cost a request more Python than the
views themselves need; nothing here uses what they add. The middleware in
`candleflow.web.middleware` is installed on the same application, and the per-process
database connections are closed when the web server cleans up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from aiohttp import web
from faust.web.drivers.aiohttp import Web as FaustAiohttpWeb

from candleflow.app import app, settings
from candleflow.store.database import Database
from candleflow.web.middleware import udf_middleware
from candleflow.web.runtime import install

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

__all__ = ["Handler", "aiohttp_app", "app", "database", "page", "settings"]

#: The worker's aiohttp application (Faust's aiohttp web driver).
aiohttp_app: web.Application = cast(FaustAiohttpWeb, app.web).web_app
if udf_middleware not in aiohttp_app.middlewares:
    aiohttp_app.middlewares.append(udf_middleware)
install(aiohttp_app)

database = Database(settings.database_url, command_timeout=15.0)


async def _close_database(_: web.Application) -> None:
    await database.close()


aiohttp_app.on_cleanup.append(_close_database)


def page(path: str) -> Callable[[Handler], Handler]:
    """Register `handler` for GET (and HEAD) on `path`."""

    def decorate(handler: Handler) -> Handler:
        aiohttp_app.router.add_get(path, handler, name=f"candleflow.{handler.__name__}")
        return handler

    return decorate
