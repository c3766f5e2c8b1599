"""The production topology on the secured local stack: Kafka over SASL_SSL (SCRAM, the
stack's CA), PostgreSQL with `sslmode=verify-full`, and a streaming read replica.

* The whole pipeline: an engine-only worker runs the synthetic feed (source, engine,
  sink, dead letters, monitor, Faust: every Kafka client through the one secured
  configuration, no plaintext listener in its settings), a `candleflow web` process
  reads history from the replica and streams bars from `bars.updates`; the charts it
  serves from the replica equal the primary's bars, and its stream's bars too.
* A server that refuses the process stops it at start, through the command runner,
  with exit code 3 and a message that says which setting to fix: a wrong SASL password,
  a Kafka CA that does not sign the broker, a PostgreSQL CA that does not sign the
  server (primary or replica); the worker, the web tier and the tools (a feed, a
  replay, the migrations) alike.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest

from candleflow.stack import StackInfo
from candleflow.stack.tls import make_ca
from tests.harness import Names, WorkerFactory, create_topics
from tests.harness.sse import SYMBOL, Reader, stream
from tests.harness.waiting import eventually
from tests.harness.worker import WEB, candleflow_executable

pytestmark = pytest.mark.integration

Bars = dict[int, tuple[float, float, float, float, float]]


def replica_of(stack: StackInfo, database_url: str) -> str:
    url = stack.replica_url_of(urlsplit(database_url).path.lstrip("/"))
    assert url is not None, "the secured stack has a replica"
    return url


async def _primary_bars(database_url: str, start: int, end: int) -> Bars:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT extract(epoch FROM bucket)::int8 AS t, open, high, low, close, volume FROM bars"
            " WHERE symbol = $1 AND resolution = '1S' AND bucket >= to_timestamp($2) AND bucket < to_timestamp($3)",
            SYMBOL,
            start,
            end,
        )
    finally:
        await conn.close()
    return {r["t"]: (r["open"], r["high"], r["low"], r["close"], float(r["volume"])) for r in rows}


async def _served_bars(session: aiohttp.ClientSession, url: str, start: int, end: int) -> Bars | None:
    params: dict[str, str | int] = {"symbol": SYMBOL, "resolution": "1S", "from": start, "to": end}
    async with session.get(f"{url}/udf/history", params=params) as response:
        body = await response.json()
    if body["s"] != "ok":
        return None
    columns = (body["t"], body["o"], body["h"], body["l"], body["c"], body["v"])
    return {t: (o, h, lo, c, float(v)) for t, o, h, lo, c, v in zip(*columns, strict=True)}


async def _replica_equals_primary(
    session: aiohttp.ClientSession, url: str, database_url: str, start: int, end: int
) -> bool:
    served = await _served_bars(session, url, start, end)
    return bool(served) and served == await _primary_bars(database_url, start, end)


async def _stream_agrees(reader: Reader, database_url: str, before: int) -> bool:
    shown = {b["time"]: (b["open"], b["high"], b["low"], b["close"]) for b in reader.bars() if b["time"] < before}
    if not shown:
        return False
    stored = await _primary_bars(database_url, min(shown), before)
    return all(stored.get(t, ())[:4] == bar for t, bar in shown.items())


async def _health(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(f"{url}/healthz") as response:
        body: dict[str, Any] = await response.json()
        return body


async def test_the_pipeline_over_sasl_ssl_with_tls_postgres_and_a_replica(
    secured_stack: StackInfo, secured_database_url: str, names: Names, worker_factory: WorkerFactory
) -> None:
    await create_topics(
        secured_stack.kafka_bootstrap, {names.ticks_topic: 2, names.updates_topic: 2, names.dead_topic: 1}
    )
    env = names.env(secured_stack, secured_database_url)
    assert env["CANDLEFLOW_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["CANDLEFLOW_KAFKA_BOOTSTRAP"] == f"127.0.0.1:{secured_stack.kafka_port_of('SASL_SSL')}"
    assert "sslmode=verify-full" in env["CANDLEFLOW_DATABASE_URL"]
    began = int(time.time())
    engine = worker_factory.start(env | {"CANDLEFLOW_ROLE": "engine", "CANDLEFLOW_SOURCE": "synthetic"})
    web = worker_factory.start(
        names.env(
            secured_stack, secured_database_url, database_read_url=replica_of(secured_stack, secured_database_url)
        ),
        WEB,
    )
    for process in (engine, web):
        await asyncio.to_thread(process.wait_ready, 120)
    async with aiohttp.ClientSession() as session:

        async def symbol_served() -> bool:
            async with session.get(f"{web.url}/udf/symbols", params={"symbol": SYMBOL}) as response:
                return response.status == 200

        await eventually(symbol_served, 90, what="the feed's first ticks stored, and replicated")
        health = await _health(session, web.url)
        assert (health["role"], health["kafka"]["reachable"]) == ("web", True)
        assert health["replica"]["reads_from"] == "replica" and health["replica"]["standby"] is True
        async with stream(session, web.url, SYMBOL, "1S") as (_, reader):
            await reader.wait_for(lambda r: len({b["time"] for b in r.bars()}) >= 4, timeout=60)
            cut = max(b["time"] for b in reader.bars())  # older bars are closed: the feed's ticks are live
            await eventually(
                lambda: _replica_equals_primary(session, web.url, secured_database_url, began - 5, cut),
                60,
                what="history served from the replica equal to the primary's bars",
            )
            await eventually(
                lambda: _stream_agrees(reader, secured_database_url, cut),
                30,
                what="the bars streamed over SSE equal the stored ones",
            )
        engine_health = await _health(session, engine.url)
        assert engine_health["engine"]["ticks_processed"] > 0 and engine_health["feeds"]["status"] == "up"


def _start_refused(args: tuple[str, ...], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    full = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CANDLEFLOW_STACK_DIR": str(tmp_path), **env}
    return subprocess.run(
        [candleflow_executable(), *args], env=full, capture_output=True, text=True, timeout=120, check=False
    )


#: (command, what is broken, what its message must say): the worker, the web tier and the tools.
REFUSALS: list[tuple[tuple[str, ...], str, str]] = [
    (("worker",), "kafka password", "refused the login of user 'candleflow' with SCRAM-SHA-512"),
    (("worker",), "kafka ca", "not signed by the CA of CANDLEFLOW_KAFKA_SSL_CAFILE="),
    (("ingest", "synthetic"), "kafka password", "refused the login of user 'candleflow' with SCRAM-SHA-512"),
    (("replay",), "kafka ca", "not signed by the CA of CANDLEFLOW_KAFKA_SSL_CAFILE="),
    (("db", "migrate"), "postgres ca", "(CANDLEFLOW_DATABASE_URL) presented a certificate not signed by the CA of"),
    (("web",), "postgres ca", "(CANDLEFLOW_DATABASE_URL) presented a certificate not signed by the CA of"),
    (
        ("worker", "--role", "web"),  # the manifests' web tier: `candleflow worker` with the role web
        "replica ca",
        "(CANDLEFLOW_DATABASE_READ_URL) presented a certificate not signed by the CA of",
    ),
]


@pytest.mark.parametrize(
    ("args", "broken", "said"), REFUSALS, ids=[f"{' '.join(args)}: {broken}" for args, broken, _ in REFUSALS]
)
def test_a_refusing_server_stops_the_process_at_start(
    secured_stack: StackInfo, tmp_path: Path, args: tuple[str, ...], broken: str, said: str
) -> None:
    foreign = str(make_ca(tmp_path, "not the stack's CA").ca)
    ca = str(secured_stack.tls.ca)
    replica = secured_stack.replica_url
    assert replica is not None
    env = {
        **secured_stack.env(),
        "CANDLEFLOW_DATABASE_READ_URL": replica,
        "CANDLEFLOW_APP_ID": "refused-" + "-".join(args[:1] + tuple(broken.split())),
    }
    env |= {
        "kafka password": {"CANDLEFLOW_KAFKA_SASL_PASSWORD": "not-the-password"},
        "kafka ca": {"CANDLEFLOW_KAFKA_SSL_CAFILE": foreign},
        "postgres ca": {"CANDLEFLOW_DATABASE_URL": env["CANDLEFLOW_DATABASE_URL"].replace(ca, foreign)},
        "replica ca": {"CANDLEFLOW_DATABASE_READ_URL": replica.replace(ca, foreign)},
    }[broken]
    done = _start_refused(args, env, tmp_path)
    assert done.returncode == 3, done.stderr[-3000:]
    assert said in done.stderr, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
