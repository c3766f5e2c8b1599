"""A web-only process (`CANDLEFLOW_ROLE=web`, `candleflow web`): the web tier apart from
the engine.

It holds no partition of the engine and runs no Faust worker. Its SSE hub follows every
partition of `bars.updates` from the end (`candleflow.web.updates_feed`) and re-reads
the current bars from the primary after a gap; its application (`create_web_app`)
serves UDF, SSE, quotes, the chart, `/healthz` (no engine section to fail it), `/livez`
and `/metrics`. Any number of them run beside the engine processes: on one host they
share the web port with `CANDLEFLOW_WEB_REUSE_PORT=true` (the kernel spreads the
connections over them), on other hosts behind a load balancer. A chart's history and
its stream may be served by different processes: every one of them reads the same
database and follows the same topic.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from candleflow.core import collector
from candleflow.core.engine_status import EngineStatus
from candleflow.core.settings import Settings
from candleflow.functions.registry import FunctionSet
from candleflow.kafka.config import KafkaConfig
from candleflow.store.database import Database
from candleflow.web.application import create_web_app, serve
from candleflow.web.context import CONTEXT
from candleflow.web.hub import Hub
from candleflow.web.runtime import Runtime
from candleflow.web.updates_feed import UpdatesFeed, current_bars

log = logging.getLogger(__name__)


class WebTier:
    """What a web-only process attaches to its application's `Runtime`: the SSE hub, and
    no engine (`status` is None)."""

    status: EngineStatus | None = None

    def __init__(self, settings: Settings, kafka: KafkaConfig, database: Database) -> None:
        feed = UpdatesFeed(kafka, settings.updates_topic, reread=lambda keys: current_bars(database, keys))
        self.hub = Hub(feed, settings.sse_queue)

    async def close(self) -> None:
        await self.hub.stop()


def web_app(settings: Settings, functions: FunctionSet | None = None) -> tuple[web.Application, WebTier]:
    """The application of a web-only process and its tier, attached to it."""
    runtime = Runtime()
    kafka = KafkaConfig.from_settings(settings)
    app = create_web_app(settings, runtime=runtime, functions=functions, kafka=kafka)
    tier = WebTier(settings, kafka, app[CONTEXT].database)
    runtime.attach(tier)
    return app, tier


async def run_web(settings: Settings, stop: asyncio.Event, functions: FunctionSet | None = None) -> None:
    """Serve the web tier on the settings' host and port until `stop` is set."""
    app, tier = web_app(settings, functions)
    runner = await serve(app, settings)
    collector.settle()
    log.info(
        "web tier serving on %s:%s%s",
        settings.web_host,
        settings.web_port,
        " (port shared: SO_REUSEPORT)" if settings.web_reuse_port else "",
    )
    try:
        await stop.wait()
    finally:
        try:
            await runner.cleanup()
        finally:
            await tier.close()
