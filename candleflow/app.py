"""The Faust app: `faust -A candleflow.app worker` (or `candleflow worker`).

`create_app(settings)` builds the `faust.App` of a worker: its Faust `Worker` class,
which serves the web application from the worker's start (`candleflow.agents.Serving`),
and its one task (`candleflow.agents.run_engine`: the engine, the hub, the feed). Faust's
web server is off (the worker serves its own application), and
Faust's own consumer only follows its leader topic (`topic_disable_leader=False`: a Faust
consumer with no topic at all refuses to start); the engine reads Kafka with its own
consumer group and the feed follows that group's partition 0 (`candleflow.worker`).

`CANDLEFLOW_ROLE` chooses what the worker runs: `all` (the default) serves the whole web
application beside the engine; `engine` serves only `/healthz`, `/livez` and `/metrics`
on its web port; `web` runs no Faust worker at all (`candleflow web`).

Importing this module reads nothing and opens nothing. The attribute `app` — what
`faust -A candleflow.app` asks for — is the entry point: the first access reads the
settings from the environment, checks that Kafka and PostgreSQL accept this process
(`candleflow.startup`), installs the event loop and builds the app. A bad setting ends
the process with exit code 2, a server that refuses it with exit code 3, each with a
message that says what to fix, before Faust starts (a broker that refuses a client
would otherwise be retried forever).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from typing import Any

import faust
from faust.worker import Worker as FaustWorker

from candleflow import startup
from candleflow.agents import Serving, run_engine
from candleflow.core import event_loop
from candleflow.core.command import exit_code
from candleflow.core.logs import quiet_libraries, worker_loglevel
from candleflow.core.settings import Settings, variable
from candleflow.domain.exceptions import CandleflowError, ConfigError
from candleflow.functions.registry import FunctionSet, from_settings
from candleflow.kafka.config import KafkaConfig


def worker_class(settings: Settings, serving: Serving) -> type[FaustWorker]:
    """Faust's worker, logging at `CANDLEFLOW_LOG_LEVEL` unless `-l` says otherwise, and
    without Faust's web server whatever `faust worker --with-web` (its default) says: the
    worker serves its own application on `CANDLEFLOW_WEB_PORT` (`serving`), from its first
    start, before Faust joins its group, to its shutdown."""

    class Worker(FaustWorker):
        def __init__(self, app: faust.App, *args: Any, loglevel: str | int | None = None, **kwargs: Any) -> None:
            level = worker_loglevel(loglevel if isinstance(loglevel, str) else None, settings.log_level, sys.argv[1:])
            app.conf.web_enabled = False
            super().__init__(app, *args, loglevel=level, **kwargs)

        async def on_first_start(self) -> None:
            await super().on_first_start()
            await serving.start()

        async def on_shutdown(self) -> None:
            await serving.stop()
            await super().on_shutdown()

        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            """No start-up spinner. At WARNING and above, Faust's spinner sets the root logger to
            DEBUG for the worker's whole life, so that every log call turns it: every debug line
            of aiokafka, mode and Faust then builds a record that no handler prints (a visible
            part of a quiet worker's time answering history: `bench/bench_history.py`)."""
            self.spinner = None
            super().on_setup_root_logger(logger, level)
            quiet_libraries()

    return Worker


def create_app(conf: Settings, functions: FunctionSet | None = None) -> faust.App:
    """The Faust app of a worker with these settings (the functions built once, here,
    unless given: `FunctionConfigError` names a bad one)."""
    functions = functions if functions is not None else from_settings(conf)
    serving = Serving(conf, functions)
    datadir = conf.stack_dir / "faust" / conf.app_id
    datadir.mkdir(parents=True, exist_ok=True)
    kafka = KafkaConfig.from_settings(conf)
    app = faust.App(
        conf.app_id,
        broker=conf.kafka_url,
        broker_credentials=kafka.faust_credentials(),
        broker_client_id=f"{kafka.client_id}-faust",
        store="memory://",
        autodiscover=False,
        origin="candleflow",
        web_enabled=False,
        topic_partitions=conf.ticks_partitions,
        topic_allow_declare=True,
        topic_disable_leader=False,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        producer_linger_ms=5,
        producer_max_batch_size=1_048_576,
        broker_session_timeout=kafka.session_timeout_s,
        broker_heartbeat_interval=kafka.heartbeat_interval_s,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=20_000,
        consumer_max_fetch_size=4 * 1_048_576,
        datadir=str(datadir),
        loghandlers=[],
        Worker=worker_class(conf, serving),
    )

    async def bar_engine() -> None:
        await run_engine(conf, functions, serving.runtime)

    app.task(bar_engine)
    return app


@functools.cache
def app_from_environment() -> faust.App:
    """The entry point's app: settings from the environment, the servers' start-up check,
    the event loop installed before Faust builds the worker's loop; a bad setting or a
    refusing server exits with its code and message (see the module docstring)."""
    try:
        settings = Settings.from_env()
        if settings.role == "web":
            raise ConfigError(f"{variable('role')}=web runs no Faust worker: start the web tier with `candleflow web`")
        functions = from_settings(settings)
        asyncio.run(startup.check(settings, replica=settings.role == "all"))
    except CandleflowError as exc:
        print(f"candleflow: {exc}", file=sys.stderr)
        raise SystemExit(exit_code(exc)) from None
    event_loop.install(settings.event_loop)
    return create_app(settings, functions)


def __getattr__(name: str) -> Any:
    """`candleflow.app.app`, built on first access (see the module docstring)."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return app_from_environment()
