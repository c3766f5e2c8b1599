"""`/healthz` and `/metrics`: is this worker's world reachable, and what has it done.

`/healthz` answers 200 when both Kafka and PostgreSQL answer, else 503, with::

    {"status": "ok" | "degraded",
     "kafka": {"reachable": bool, "bootstrap": str, "error": str | null},
     "database": {"reachable": bool, "capability": "timescaledb" | "postgresql" | null,
                  "error": str | null},
     "capability": "timescaledb" | "postgresql" | null,
     "engine": {"state": "starting" | "running",
                "partitions": {...}, "total": int, ...},   # consumer lag on ticks.raw
     "feeds": {"status": "up" | "down" | "none", "down": [[source, symbol, reason]],
               "sources": {source: {symbol: {"connected", "down_for_s", "reason",
                           "last_trade_age_s", "reconnects", "not_understood"}}}}}

A feed this worker runs that has been down for longer than CANDLEFLOW_FEED_DOWN_AFTER
makes the status "degraded" with the client's reason, still with 200: the worker serves
its charts, only their data has stopped (503 stays for Kafka or PostgreSQL unreachable).

The Kafka probe (a metadata bootstrap with a short timeout) is cached for a few
seconds so a tight health-check loop does not open a connection per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiokafka.client import AIOKafkaClient

from candleflow.core.metrics import render
from candleflow.store import queries
from candleflow.web import responses
from candleflow.web.context import DB_ERRORS
from candleflow.web.errors import UdfError
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

    def __init__(self, bootstrap: str, ttl: float = KAFKA_CACHE_S) -> None:
        self.bootstrap = bootstrap
        self.ttl = ttl
        self._last: Probe | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> Probe:
        async with self._lock:
            if self._last is None or time.monotonic() - self._last.at > self.ttl:
                self._last = await self._probe()
            return self._last

    async def _probe(self) -> Probe:
        client = AIOKafkaClient(
            bootstrap_servers=self.bootstrap,
            request_timeout_ms=int(PROBE_TIMEOUT * 1000),
            client_id="candleflow-healthz",
        )
        try:
            await asyncio.wait_for(client.bootstrap(), PROBE_TIMEOUT)
            return Probe(True, None, time.monotonic())
        except Exception as exc:  # any failure means "not reachable", reported as text
            return Probe(False, f"{type(exc).__name__}: {exc}"[:300], time.monotonic())
        finally:
            # closing a half-open client may fail; there is nothing left to do then
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), PROBE_TIMEOUT)


_kafka = KafkaProbe(settings.kafka_bootstrap)


async def database_status() -> dict[str, Any]:
    try:
        db = await database.connected()
        capability = await asyncio.wait_for(queries.capability(db), PROBE_TIMEOUT)
        return {"reachable": True, "capability": capability, "error": None}
    except UdfError as exc:
        cause = exc.__cause__
        return {"reachable": False, "capability": None, "error": f"{exc.message}: {cause!r}"[:300]}
    except DB_ERRORS as exc:
        return {"reachable": False, "capability": None, "error": f"{type(exc).__name__}: {exc}"[:300]}


def engine_status(request: web.Request) -> dict[str, object]:
    worker = of(request.app).worker
    return {"state": "starting"} if worker is None else {"state": "running", **worker.status.snapshot()}


def feeds_status(request: web.Request) -> dict[str, object]:
    """The feeds this worker runs (none on a worker that does not lead its group)."""
    feed = getattr(of(request.app).worker, "feed", None)
    if feed is None or not feed.leading:
        return {"status": "none", "down": [], "sources": {}}
    snapshot: dict[str, object] = feed.status.snapshot()
    return snapshot


@page("/healthz")
async def healthz(request: web.Request) -> web.StreamResponse:
    """Kafka and database reachability, database capability, engine lag."""
    kafka, db = await asyncio.gather(_kafka.check(), database_status())
    healthy = kafka.reachable and bool(db["reachable"])
    feeds = feeds_status(request)
    body = {
        "status": "ok" if healthy and feeds["status"] != "down" else "degraded",
        "kafka": {"reachable": kafka.reachable, "bootstrap": settings.kafka_bootstrap, "error": kafka.error},
        "database": db,
        "capability": db["capability"],
        "engine": engine_status(request),
        "feeds": feeds,
    }
    return responses.json(body, status=200 if healthy else 503, cache=responses.NO_STORE)


@page("/metrics")
async def metrics(request: web.Request) -> web.StreamResponse:
    """Prometheus text format of this process's registry."""
    response = web.Response(body=render())
    response.headers["Content-Type"] = METRICS_CONTENT_TYPE
    response.headers["Cache-Control"] = responses.NO_STORE
    return response
