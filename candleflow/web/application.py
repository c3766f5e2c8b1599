"""The web application, built by one function from what it serves.

`create_web_app(settings, ...)` builds the aiohttp application of a process: the routes
(`candleflow.web.routes`: all of them, or with `CANDLEFLOW_ROLE=engine` only `/healthz`,
`/livez` and `/metrics`), the middleware (`candleflow.web.middleware`), the views'
`WebContext` (settings, database, the reads and their replica, runtime, functions, the
Kafka probe, the Bar Replays and streamed quotes, the OpenAPI document), and what happens
at start (the replica's lag is watched) and at shutdown (open streams and replays are
ended, the databases it opened are closed). Nothing is read from the environment or a
module global, so a test builds an application from its own settings and serves it
in-process.

`serve` runs an application on the settings' host and port with aiohttp's runner (a
worker serves it from its task, beside the engine; `SO_REUSEPORT` when
`CANDLEFLOW_WEB_REUSE_PORT` asks for it), and the admin surface on its own port when
`CANDLEFLOW_ADMIN_PORT` is set (`candleflow.web.admin`). Its connections are closed
after `CANDLEFLOW_WEB_IDLE_TIMEOUT` idle seconds, a connection that has not sent a
whole request head by then included (aiohttp's keep-alive timer runs from the moment a
connection is made). Answers carry a `Server` header without versions, and the CORS
headers of `CANDLEFLOW_CORS_ORIGINS` (`candleflow.web.cors`), streams included.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from candleflow.core.settings import Settings
from candleflow.functions.registry import FunctionSet, from_settings
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.probe import KafkaProbe
from candleflow.replay.registry import Replays
from candleflow.store.database import Database
from candleflow.store.probe import DatabaseProbe
from candleflow.store.replica import Reads
from candleflow.web import openapi, responses
from candleflow.web.admin import serve_admin
from candleflow.web.context import CONTEXT, WebContext, context
from candleflow.web.cors import Cors
from candleflow.web.guard import GUARD, Guard, guard_middleware
from candleflow.web.limits import WebLimits
from candleflow.web.middleware import udf_middleware
from candleflow.web.quote_board import QuoteBoard
from candleflow.web.rejections import Rejections, ServerLog
from candleflow.web.routes import add_health_routes, add_routes, route_rules
from candleflow.web.runtime import Runtime
from candleflow.web.symbols_cache import SymbolCache

#: Connections the web views of one process read with at most.
WEB_CONNECTIONS = 10
#: The longest a view's statement may take (a read that takes longer answers 503).
STATEMENT_TIMEOUT_S = 15.0
#: How long a stopping server waits for requests still in flight.
SHUTDOWN_TIMEOUT_S = 5.0
#: Connections the kernel queues for the web port before the server accepts them (capped
#: by net.core.somaxconn): charts reconnecting all at once after a restart are queued,
#: not refused and left to retry a second later (aiohttp's default is 128).
LISTEN_BACKLOG = 1024


def create_web_app(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    database: Database | None = None,
    functions: FunctionSet | None = None,
    kafka: KafkaConfig | None = None,
) -> web.Application:
    """The web application of `settings`.

    `runtime` is where the views find the running worker (its status and SSE hub; an
    empty one answers "starting"); `database` defaults to one the application opens
    from `settings.database_url` and closes at cleanup; `functions` to those the settings
    configure (`FunctionConfigError` names a bad one); `kafka` to the settings' Kafka.
    """
    responses.no_library_versions()
    app = web.Application(middlewares=[udf_middleware, guard_middleware])
    kafka = kafka or KafkaConfig.from_settings(settings)
    owned = database is None
    limits = WebLimits.from_settings(settings)
    app[GUARD] = Guard.from_settings(settings, limits)
    primary = database or web_database(settings, settings.database_url)
    serves_charts = settings.role != "engine"
    replica = (
        web_database(settings, settings.database_read_url) if settings.database_read_url and serves_charts else None
    )
    symbols = SymbolCache()
    ctx = WebContext(
        settings=settings,
        database=primary,
        reads=Reads(primary, replica, max_lag_s=settings.replica_max_lag, fallback=settings.replica_fallback),
        runtime=runtime or Runtime(),
        functions=functions or from_settings(settings),
        kafka=kafka,
        kafka_probe=KafkaProbe(kafka),
        database_probe=DatabaseProbe(settings.database_url),
        replays=Replays(settings.replay_max),
        quotes=QuoteBoard(primary, symbols),
        symbols=symbols,
        spec=openapi.spec(settings, {k: r for k, r in route_rules().items() if r is not None}),
        limits=limits,
        cors=Cors.from_settings(settings),
        rejections=Rejections(),
    )
    app[CONTEXT] = ctx
    if serves_charts:
        add_routes(app)
    else:
        add_health_routes(app)
    app.on_response_prepare.append(_server_headers)
    app.on_startup.append(_watch_replica)
    app.on_shutdown.append(_end_streams)
    app.on_cleanup.append(_close_probes)
    if owned:
        app.on_cleanup.append(_close_database)
    return app


def web_database(settings: Settings, url: str) -> Database:
    """A database of the web views (the primary, or the read replica): a few connections,
    statements bounded in time, and a statement that would wait behind
    `CANDLEFLOW_WEB_MAX_READS` others refused (503)."""
    waiting = max(0, settings.web_max_reads - WEB_CONNECTIONS)
    return Database(url, WEB_CONNECTIONS, command_timeout=STATEMENT_TIMEOUT_S, max_waiting=waiting)


def server_options(app: web.Application) -> dict[str, Any]:
    """aiohttp's server options for `app` (its runner's, or a test server's)."""
    ctx = app[CONTEXT]
    return {
        "access_log": None,
        "shutdown_timeout": SHUTDOWN_TIMEOUT_S,
        "keepalive_timeout": ctx.settings.web_idle_timeout,
        "logger": ServerLog(ctx.rejections),
    }


async def serve(app: web.Application, settings: Settings) -> web.AppRunner:
    """Serve `app` on `CANDLEFLOW_WEB_HOST`:`CANDLEFLOW_WEB_PORT`, and its admin surface on
    `CANDLEFLOW_ADMIN_PORT` when set, until the returned runner's `cleanup()`."""
    runner = web.AppRunner(app, **server_options(app))
    if settings.admin_port:
        admin = await serve_admin(app, settings)
        app.on_cleanup.insert(0, lambda _: admin.cleanup())
    await runner.setup()
    try:
        site = web.TCPSite(
            runner,
            settings.web_host,
            settings.web_port,
            reuse_port=settings.web_reuse_port or None,
            backlog=LISTEN_BACKLOG,
        )
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


async def _server_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = responses.SERVER
    context(request).cors.add_to(request, response)


async def _end_streams(app: web.Application) -> None:
    """End every open stream and replay, so that the server's shutdown does not wait for them."""
    ctx = app[CONTEXT]
    ctx.replays.stop_all()
    worker = ctx.runtime.worker
    if worker is not None:
        worker.hub.close_all()


async def _watch_replica(app: web.Application) -> None:
    app[CONTEXT].reads.start()


async def _close_probes(app: web.Application) -> None:
    await app[CONTEXT].quotes.close()
    await app[CONTEXT].database_probe.close()
    app[CONTEXT].rejections.close()
    await app[CONTEXT].reads.close()


async def _close_database(app: web.Application) -> None:
    await app[CONTEXT].database.close()
