"""`/healthz` and `/metrics`: is this worker's world reachable, and what has it done.

`/healthz` answers 200 when both Kafka and PostgreSQL answer, else 503, with::

    {"status": "ok" | "degraded",
     "kafka": {"reachable": bool, "bootstrap": str, "error": str | null},
     "database": {"reachable": bool, "capability": "timescaledb" | "postgresql" | null,
                  "error": str | null},
     "capability": "timescaledb" | "postgresql" | null,
     "engine": {"state": "starting" | "running",
                "partitions": {...}, "total": int, ...}}   # consumer lag on ticks.raw

The Kafka probe (a metadata bootstrap with a short timeout, `candleflow.kafka.probe`) is
cached for a few seconds so a tight health-check loop does not open a connection per call.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from candleflow.core.metrics import render
from candleflow.store.connection import DB_ERRORS, DatabaseUnavailable, capability
from candleflow.store.database import Database
from candleflow.web import responses
from candleflow.web.context import WebContext, context

#: The routes of this module's views (`candleflow.web.routes` gathers every module's).
ROUTES = web.RouteTableDef()

PROBE_TIMEOUT = 3.0
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def database_status(database: Database) -> dict[str, Any]:
    try:
        db = await database.connected()
        found = await asyncio.wait_for(capability(db), PROBE_TIMEOUT)
        return {"reachable": True, "capability": found, "error": None}
    except DatabaseUnavailable as exc:
        cause = exc.__cause__
        return {"reachable": False, "capability": None, "error": f"database unavailable: {cause!r}"[:300]}
    except DB_ERRORS as exc:
        return {"reachable": False, "capability": None, "error": f"{type(exc).__name__}: {exc}"[:300]}


def engine_status(ctx: WebContext) -> dict[str, object]:
    worker = ctx.runtime.worker
    return {"state": "starting"} if worker is None else {"state": "running", **worker.status.snapshot()}


@ROUTES.get("/healthz")
async def healthz(request: web.Request) -> web.StreamResponse:
    """Kafka and database reachability, database capability, engine lag."""
    ctx = context(request)
    kafka, db = await asyncio.gather(ctx.kafka_probe.check(), database_status(ctx.database))
    healthy = kafka.reachable and bool(db["reachable"])
    body = {
        "status": "ok" if healthy else "degraded",
        "kafka": {"reachable": kafka.reachable, "bootstrap": ctx.kafka.bootstrap, "error": kafka.error},
        "database": db,
        "capability": db["capability"],
        "engine": engine_status(ctx),
    }
    return responses.json(body, status=200 if healthy else 503, cache=responses.NO_STORE)


@ROUTES.get("/metrics")
async def metrics(request: web.Request) -> web.StreamResponse:
    """Prometheus text format of this process's registry."""
    response = web.Response(body=render())
    response.headers["Content-Type"] = METRICS_CONTENT_TYPE
    response.headers["Cache-Control"] = responses.NO_STORE
    return response
