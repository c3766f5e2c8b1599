"""`/healthz` (readiness), `/livez` (liveness) and `/metrics`.

`/healthz` answers whether a load balancer should send this worker traffic: 200 when
Kafka and PostgreSQL answer and the engine is not stalled, else 503, with::

    {"status": "ok" | "degraded",
     "reason": null | "database unreachable: ...; engine stalled: ...",
     "kafka": {"reachable": bool, "bootstrap": str, "error": str | null},
     "database": {"reachable": bool, "capability": "timescaledb" | "postgresql" | null,
                  "error": str | null},
     "capability": "timescaledb" | "postgresql" | null,
     "engine": {"state": "starting" | "running",
                "partitions": {...}, "total": int,      # lag: log end - ledger, per partition held
                "stalled": bool, "stalled_partitions": {...}, "outage": str | null, ...},
     "feeds": {"status": "up" | "down" | "none", "down": [[source, symbol, reason]],
               "sources": {source: {symbol: {"connected", "down_for_s", "reason",
                           "last_trade_age_s", "reconnects", "not_understood"}}}}}

A feed this worker runs that has been down for longer than CANDLEFLOW_FEED_DOWN_AFTER
makes the status "degraded" with the client's reason, still with 200: the worker serves
its charts, only their data has stopped (503 stays for what makes the worker unready).

The engine is stalled when ticks wait and its ledger stands still for
`CANDLEFLOW_STALL_AFTER` seconds (`candleflow.core.stall`, sampled by
`candleflow.engine.monitor`). The probes run on connections of their own — a throw-away
Kafka client (its answer cached a few seconds, so a tight health-check loop does not open
a connection per call) and one PostgreSQL connection kept for them (its answer cached
`DATABASE_CACHE_S`) — never the web layer's pool, so a flood of history reads cannot
make a healthy worker look unreachable.

`/livez` answers whether the process must be restarted: 503 `{"status": "hung" |
"dead", "reason": ...}` only when the engine's loop has not turned for a long time
(`EngineStatus.liveness`) or the engine task ended with an error while the process
still serves, else 200 `{"status": "alive", "reason": null}`. A dependency being down
never fails it: restarting would not bring it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web
from aiokafka.client import AIOKafkaClient

from candleflow.core.metrics import render
from candleflow.store import queries
from candleflow.web import responses
from candleflow.web.routing import aiohttp_app, page, settings
from candleflow.web.runtime import of

PROBE_TIMEOUT = 3.0
KAFKA_CACHE_S = 5.0
DATABASE_CACHE_S = 2.0
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Probe:
    reachable: bool
    error: str | None
    at: float
    capability: str | None = None


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


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
            return Probe(False, _error(exc), time.monotonic())
        finally:
            # closing a half-open client may fail; there is nothing left to do then
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), PROBE_TIMEOUT)


class DatabaseProbe:
    """Asks PostgreSQL for its capability on a connection of its own (opened again after a
    failure); the answer is cached briefly."""

    def __init__(self, url: str, ttl: float = DATABASE_CACHE_S) -> None:
        self.url = url
        self.ttl = ttl
        self._last: Probe | None = None
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def check(self) -> Probe:
        async with self._lock:
            if self._last is None or time.monotonic() - self._last.at > self.ttl:
                self._last = await self._probe()
            return self._last

    async def _probe(self) -> Probe:
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self.url, timeout=PROBE_TIMEOUT)
            capability = await asyncio.wait_for(queries.capability(self._conn), PROBE_TIMEOUT)
            return Probe(True, None, time.monotonic(), capability)
        except Exception as exc:  # any failure means "not reachable", reported as text
            await self.close()
            return Probe(False, _error(exc), time.monotonic())

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()


_kafka = KafkaProbe(settings.kafka_bootstrap)
_database = DatabaseProbe(settings.database_url)


async def _close_probes(_: web.Application) -> None:
    await _database.close()


aiohttp_app.on_cleanup.append(_close_probes)


def engine_status(request: web.Request) -> tuple[dict[str, object], str | None]:
    """The engine section of `/healthz`, and why the engine is not ready (None: it is)."""
    worker = of(request.app).worker
    if worker is None:
        return {"state": "starting"}, None
    return {"state": "running", **worker.status.snapshot()}, worker.status.readiness()


def feeds_status(request: web.Request) -> dict[str, object]:
    """The feeds this worker runs (none on a worker that does not lead its group)."""
    feed = getattr(of(request.app).worker, "feed", None)
    if feed is None or not feed.leading:
        return {"status": "none", "down": [], "sources": {}}
    snapshot: dict[str, object] = feed.status.snapshot()
    return snapshot


@page("/healthz")
async def healthz(request: web.Request) -> web.StreamResponse:
    """Readiness: Kafka and database reachable, engine not stalled (see the module docstring)."""
    kafka, db = await asyncio.gather(_kafka.check(), _database.check())
    engine, engine_reason = engine_status(request)
    reasons = [
        *([] if kafka.reachable else [f"kafka unreachable: {kafka.error}"]),
        *([] if db.reachable else [f"database unreachable: {db.error}"]),
        *([] if engine_reason is None else [engine_reason]),
    ]
    feeds = feeds_status(request)
    down = [f"feed {source} {symbol} down: {why}" for source, symbol, why in feeds["down"]]  # type: ignore[attr-defined]
    body = {
        "status": "degraded" if reasons or down else "ok",
        "reason": "; ".join(reasons + down) if reasons or down else None,
        "kafka": {"reachable": kafka.reachable, "bootstrap": settings.kafka_bootstrap, "error": kafka.error},
        "database": {"reachable": db.reachable, "capability": db.capability, "error": db.error},
        "capability": db.capability,
        "engine": engine,
        "feeds": feeds,
    }
    return responses.json(body, status=503 if reasons else 200, cache=responses.NO_STORE)


@page("/livez")
async def livez(request: web.Request) -> web.StreamResponse:
    """Liveness: 503 only when the engine's loop is hung or its task ended (see the module docstring)."""
    slot = of(request.app)
    hung = None if slot.worker is None else slot.worker.status.liveness()
    reason = f"engine task ended: {slot.ended}" if slot.ended is not None else hung
    status = "alive" if reason is None else "dead" if slot.ended is not None else "hung"
    body = {"status": status, "reason": reason}
    return responses.json(body, status=503 if reason else 200, cache=responses.NO_STORE)


@page("/metrics")
async def metrics(request: web.Request) -> web.StreamResponse:
    """Prometheus text format of this process's registry."""
    response = web.Response(body=render())
    response.headers["Content-Type"] = METRICS_CONTENT_TYPE
    response.headers["Cache-Control"] = responses.NO_STORE
    return response
