"""The web application served in-process: `serving(settings)` builds it with the
factory every worker uses (`candleflow.web.application.create_web_app`) and serves it
on a free port of 127.0.0.1, against the real PostgreSQL (and, for streams, the real
Kafka) the settings name. No worker process: only what a view needs runs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from aiohttp.test_utils import TestServer

from candleflow.core.engine_status import EngineStatus
from candleflow.core.settings import Settings
from candleflow.kafka.config import KafkaConfig
from candleflow.store.database import Database
from candleflow.web.admin import create_admin_app
from candleflow.web.application import create_web_app, server_options
from candleflow.web.context import CONTEXT, WebContext
from candleflow.web.runtime import Runtime
from candleflow.web.tier import WebTier


@dataclass
class Served:
    """An application being served: `url` is its root, without a trailing slash;
    `admin_url` the root of its admin surface, when it is served apart."""

    url: str
    app: web.Application
    admin_url: str = ""

    @property
    def context(self) -> WebContext:
        return self.app[CONTEXT]


class LiveHub(WebTier):
    """A web tier's hub (following the settings' updates topic, re-reading the database
    after a gap) with an engine status a test sets, as a worker's would be."""

    status: EngineStatus

    def __init__(self, settings: Settings, database: Database) -> None:
        super().__init__(settings, KafkaConfig.from_settings(settings), database)
        self.status = EngineStatus()


@contextlib.asynccontextmanager
async def serving(settings: Settings, *, runtime: Runtime | None = None) -> AsyncIterator[Served]:
    """`settings`' application, served until the block ends, with aiohttp's server options
    of a worker's (`server_options`); its admin surface on a free port of its own when
    `settings.admin_port` is set (any non-zero value: the test picks the port)."""
    app = create_web_app(settings, runtime=runtime)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(**server_options(app))
    admin = TestServer(create_admin_app(app), host="127.0.0.1") if settings.admin_port else None
    try:
        if admin is not None:
            await admin.start_server()
        admin_url = str(admin.make_url("")).rstrip("/") if admin is not None else ""
        yield Served(str(server.make_url("")).rstrip("/"), server.app, admin_url)
    finally:
        if admin is not None:
            await admin.close()
        await server.close()


@contextlib.asynccontextmanager
async def serving_live(settings: Settings) -> AsyncIterator[tuple[Served, LiveHub]]:
    """`serving`, with a hub attached as a started worker's would be (streams work)."""
    runtime = Runtime()
    async with serving(settings, runtime=runtime) as served:
        live = LiveHub(settings, served.context.database)
        runtime.attach(live)
        try:
            yield served, live
        finally:
            runtime.detach()
            await live.hub.stop()
