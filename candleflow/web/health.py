"""`/healthz` (readiness), `/livez` (liveness) and `/metrics`.

`/healthz` answers whether a load balancer should send this process traffic: 200 when
Kafka and PostgreSQL answer and the engine (if this process runs one) is not stalled,
else 503, with::

    {"status": "ok" | "degraded",
     "reason": null | "database unreachable: ...; engine stalled: ...",
     "role": "all" | "engine" | "web",
     "kafka": {"reachable": bool, "bootstrap": str, "error": str | null},
     "database": {"reachable": bool, "capability": "timescaledb" | "postgresql" | null,
                  "error": str | null},
     "capability": "timescaledb" | "postgresql" | null,
     "replica": null | {"url", "reachable", "lag_s", "max_lag_s", "standby",
                        "reads_from": "replica" | "primary" | "none", "error", "reason"},
     "engine": {"state": "starting" | "running" | "none",
                "partitions": {...}, "total": int,      # lag: log end - ledger, per partition held
                "stalled": bool, "stalled_partitions": {...}, "outage": str | null, ...},
     "feeds": {"status": "up" | "down" | "none", "down": [[source, symbol, reason]],
               "sources": {source: {symbol: {"connected", "down_for_s", "reason",
                           "last_trade_age_s", "reconnects", "not_understood"}}}}}

That is the admin's view: on the admin port (`candleflow.web.admin`), or without one for
an admin token (anyone while access is open). Anyone else gets what a load balancer
needs, the same status code with the status and a reason free of addresses and raw
errors, and which feeds are down::

    {"status": "ok" | "degraded", "reason": null | "database unreachable; engine stalled",
     "feeds": {"status": ..., "down": [[source, symbol, "down"]]}}

A web process (`CANDLEFLOW_ROLE=web`) runs no engine: its engine section is
`{"state": "none"}` and never fails it. A read replica (`CANDLEFLOW_DATABASE_READ_URL`)
that lags or is down makes the status "degraded" while reads fall back to the primary
(200), and unready when they may not (`CANDLEFLOW_REPLICA_FALLBACK=fail`: 503).

A feed this worker runs that has been down for longer than CANDLEFLOW_FEED_DOWN_AFTER
makes the status "degraded" with the client's reason, still with 200: the worker serves
its charts, only their data has stopped (503 stays for what makes the worker unready).

The engine is stalled when ticks wait and its ledger stands still for
`CANDLEFLOW_STALL_AFTER` seconds (`candleflow.core.stall`, sampled by
`candleflow.engine.monitor`). The probes run on connections of their own — a throw-away
Kafka client (`candleflow.kafka.probe`, its answer cached a few seconds, so a tight
health-check loop does not open a connection per call) and one PostgreSQL connection
kept for them (`candleflow.store.probe`) — never the web layer's `Database`, so a flood
of history reads cannot make a healthy worker look unreachable.

`/livez` answers whether the process must be restarted: 503 `{"status": "hung" |
"dead", "reason": ...}` only when the engine's loop has not turned for a long time
(`EngineStatus.liveness`) or the engine task ended with an error while the process
still serves, else 200 `{"status": "alive", "reason": null}`. A dependency being down
never fails it: restarting would not bring it back.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from candleflow.core.metrics import render
from candleflow.web import responses, rules
from candleflow.web.context import WebContext, context
from candleflow.web.guard import admin_view

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: The routes of this module's views (`candleflow.web.routes` gathers every module's).
ROUTES = web.RouteTableDef()


def engine_status(ctx: WebContext) -> tuple[dict[str, object], str | None]:
    """The engine section of `/healthz`, and why the engine is not ready (None: it is)."""
    worker = ctx.runtime.worker
    if ctx.settings.role == "web":
        return {"state": "none"}, None
    if worker is None or worker.status is None:
        return {"state": "starting"}, None
    return {"state": "running", **worker.status.snapshot()}, worker.status.readiness()


def feeds_status(ctx: WebContext) -> dict[str, object]:
    """The feeds this worker runs (none on a worker that does not lead its group)."""
    feed = getattr(ctx.runtime.worker, "feed", None)
    if feed is None or not feed.leading:
        return {"status": "none", "down": [], "sources": {}}
    snapshot: dict[str, object] = feed.status.snapshot()
    return snapshot


@ROUTES.get("/healthz")
@rules.public
async def healthz(request: web.Request) -> web.StreamResponse:
    """Readiness: Kafka and database reachable, engine not stalled (see the module docstring)."""
    ctx = context(request)
    kafka, db = await asyncio.gather(ctx.kafka_probe.check(), ctx.database_probe.check())
    engine, engine_reason = engine_status(ctx)
    replica = ctx.reads.unusable()
    replica_fails = replica is not None and ctx.reads.fallback == "fail"
    reasons = [
        *([] if kafka.reachable else [f"kafka unreachable: {kafka.error}"]),
        *([] if db.reachable else [f"database unreachable: {db.error}"]),
        *([] if engine_reason is None else [engine_reason]),
        *([replica] if replica_fails and replica else []),
    ]
    feeds = feeds_status(ctx)
    down = [f"feed {source} {symbol} down: {why}" for source, symbol, why in feeds["down"]]  # type: ignore[attr-defined]
    degraded = [] if replica is None or replica_fails else [f"{replica}; reading from the primary"]
    status = 503 if reasons else 200
    if not admin_view(request):
        return responses.json(_summary(reasons + degraded, feeds), status=status, cache=responses.NO_STORE)
    down += degraded
    body = {
        "status": "degraded" if reasons or down else "ok",
        "reason": "; ".join(reasons + down) if reasons or down else None,
        "role": ctx.settings.role,
        "kafka": {"reachable": kafka.reachable, "bootstrap": ctx.kafka.bootstrap, "error": kafka.error},
        "database": {"reachable": db.reachable, "capability": db.capability, "error": db.error},
        "capability": db.capability,
        "replica": ctx.reads.snapshot(),
        "engine": engine,
        "feeds": feeds,
    }
    return responses.json(body, status=status, cache=responses.NO_STORE)


def _summary(reasons: list[str], feeds: dict[str, object]) -> dict[str, object]:
    """`/healthz` for anyone but the admin: each reason cut at its first colon (what is
    wrong, not the address or the raw error), the feeds that are down without theirs."""
    down = [[source, symbol, "down"] for source, symbol, _ in feeds["down"]]  # type: ignore[attr-defined]
    short = [*dict.fromkeys(reason.split(":", 1)[0] for reason in reasons), *(f"feed {s} {m} down" for s, m, _ in down)]
    return {
        "status": "degraded" if short else "ok",
        "reason": "; ".join(short) if short else None,
        "feeds": {"status": feeds["status"], "down": down},
    }


@ROUTES.get("/livez")
@rules.public
async def livez(request: web.Request) -> web.StreamResponse:
    """Liveness: 503 only when the engine's loop is hung or its task ended (see the module docstring)."""
    runtime = context(request).runtime
    engine = None if runtime.worker is None else runtime.worker.status
    hung = None if engine is None else engine.liveness()
    reason = f"engine task ended: {runtime.ended}" if runtime.ended is not None else hung
    status = "alive" if reason is None else "dead" if runtime.ended is not None else "hung"
    body = {"status": status, "reason": reason}
    return responses.json(body, status=503 if reason else 200, cache=responses.NO_STORE)


@ROUTES.get("/metrics")
@rules.admin
async def metrics(request: web.Request) -> web.StreamResponse:
    """Prometheus text format of this process's registry."""
    response = web.Response(body=render())
    response.headers["Content-Type"] = METRICS_CONTENT_TYPE
    response.headers["Cache-Control"] = responses.NO_STORE
    return response
