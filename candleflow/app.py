"""The Faust app: `faust -A candleflow.app worker` (or `candleflow worker`).

This module only builds the `faust.App` from the settings; the engine task
(`candleflow.agents`) and the web views import it and are found by autodiscovery when a
worker starts. The engine reads Kafka with its own consumer group and the feed follows
that group's partition 0 (`candleflow.worker`); Faust's own consumer only follows its
leader topic (`topic_disable_leader=False`: a Faust consumer with no topic at all
refuses to start).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import faust
from faust.worker import Worker as FaustWorker

from candleflow.core import event_loop
from candleflow.core.logs import quiet_libraries, worker_loglevel
from candleflow.core.settings import Settings
from candleflow.domain.exceptions import ConfigError
from candleflow.functions.registry import from_settings

try:
    settings = Settings.from_env()
    #: The indicators and signals this worker computes and serves (checked here, at start).
    functions = from_settings(settings)
except ConfigError as exc:
    print(f"candleflow: {exc}", file=sys.stderr)
    raise SystemExit(2) from None

#: Before Faust builds the worker's loop (it does so after importing this module).
event_loop.install(settings.event_loop)


class Worker(FaustWorker):
    """Faust's worker, logging at `CANDLEFLOW_LOG_LEVEL` unless `-l` says otherwise."""

    def __init__(self, *args: Any, loglevel: str | int | None = None, **kwargs: Any) -> None:
        level = worker_loglevel(loglevel if isinstance(loglevel, str) else None, settings.log_level, sys.argv[1:])
        super().__init__(*args, loglevel=level, **kwargs)

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        """No start-up spinner. At WARNING and above, Faust's spinner sets the root logger to
        DEBUG for the worker's whole life, so that every log call turns it: every debug line
        of aiokafka, mode and Faust then builds a record that no handler prints (measured: a
        tenth of a quiet worker's busy time while it answers history requests)."""
        self.spinner = None
        super().on_setup_root_logger(logger, level)
        quiet_libraries()


def create_app(conf: Settings) -> faust.App:
    datadir = conf.stack_dir / "faust" / conf.app_id
    datadir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        conf.app_id,
        broker=conf.kafka_url,
        store="memory://",
        autodiscover=["candleflow.agents", "candleflow.web"],
        origin="candleflow",
        web_host=conf.web_host,
        web_port=conf.web_port,
        web_bind=conf.web_host,
        web_transport="tcp://",
        web_cors_options=None,
        topic_partitions=conf.ticks_partitions,
        topic_allow_declare=True,
        topic_disable_leader=False,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        producer_linger_ms=5,
        producer_max_batch_size=1_048_576,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=20_000,
        consumer_max_fetch_size=4 * 1_048_576,
        datadir=str(datadir),
        loghandlers=[],
        Worker=Worker,
    )


app = create_app(settings)
