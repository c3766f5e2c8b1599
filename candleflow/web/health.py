"""`/healthz` and `/metrics`: is this worker's world reachable, and what has it done.

`/healthz` answers 200 when both Kafka and PostgreSQL answer, else 503, with::

    {"status": "ok" | "degraded",
     "kafka": {"reachable": bool, "bootstrap": str, "error": str | null},
     "database": {"reachable": bool, "capability": "timescaledb" | "postgresql" | null,
                  "error": str | null},
     "capability": "timescaledb" | "postgresql" | null,
     "engine": {"state": "starting" | "running",
                "partitions": {...}, "total": int, ...}}   # consumer lag on ticks.raw

The Kafka probe (a metadata bootstrap with a short timeout) is cached for a few
seconds so a tight health-check loop does not open a connection per call.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from candleflow.core.metrics import render
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.probe import kafka_error
from candleflow.store.connection import DB_ERRORS, DatabaseUnavailable, capability
from candleflow.web import responses
from candleflow.web.routing import database, page, settings
from candleflow.web.runtime import of

PROBE_TIMEOUT = 3.0
KAFKA_CACHE_S = 5.0
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Probe:
    reachable: bool
    error: str | None
    at: float


class KafkaProbe:
    """Bootstraps a throw-away client against the brokers; the answer is cached briefly."""

    def __init__(self, config: KafkaConfig, ttl: float = KAFKA_CACHE_S) -> None:
        self.config = config
        self.ttl = ttl
        self._last: Probe | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> Probe:
        async with self._lock:
            if self._last is None or time.monotonic() - self._last.at > self.ttl:
                self._last = await self._probe()
            return self._last

    async def _probe(self) -> Probe:
        error = await kafka_error(self.config, PROBE_TIMEOUT)
        return Probe(error is None, error, time.monotonic())


_kafka = KafkaProbe(KafkaConfig.from_settings(settings))


async def database_status() -> dict[str, Any]:
    try:
        db = await database.connected()
        found = await asyncio.wait_for(capability(db), PROBE_TIMEOUT)
        return {"reachable": True, "capability": found, "error": None}
    except DatabaseUnavailable as exc:
        cause = exc.__cause__
        return {"reachable": False, "capability": None, "error": f"database unavailable: {cause!r}"[:300]}
    except DB_ERRORS as exc:
        return {"reachable": False, "capability": None, "error": f"{type(exc).__name__}: {exc}"[:300]}


def engine_status(request: web.Request) -> dict[str, object]:
    worker = of(request.app).worker
    return {"state": "starting"} if worker is None else {"state": "running", **worker.status.snapshot()}


@page("/healthz")
async def healthz(request: web.Request) -> web.StreamResponse:
    """Kafka and database reachability, database capability, engine lag."""
    kafka, db = await asyncio.gather(_kafka.check(), database_status())
    healthy = kafka.reachable and bool(db["reachable"])
    body = {
        "status": "ok" if healthy else "degraded",
        "kafka": {"reachable": kafka.reachable, "bootstrap": settings.kafka_bootstrap, "error": kafka.error},
        "database": db,
        "capability": db["capability"],
        "engine": engine_status(request),
    }
    return responses.json(body, status=200 if healthy else 503, cache=responses.NO_STORE)


@page("/metrics")
async def metrics(request: web.Request) -> web.StreamResponse:
    """Prometheus text format of this process's registry."""
    response = web.Response(body=render())
    response.headers["Content-Type"] = METRICS_CONTENT_TYPE
    response.headers["Cache-Control"] = responses.NO_STORE
    return response
