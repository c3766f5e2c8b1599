"""The engine and the web tier as separate processes (`CANDLEFLOW_ROLE`), against the real
Kafka and PostgreSQL: an engine-only worker and two `candleflow web` processes sharing
one port (SO_REUSEPORT). The engine holds every partition and serves only its health;
the web processes hold none, follow `bars.updates`, and a chart's stream through the
shared port gets the bars whichever process the kernel handed it to, equal to
`/udf/history` once the stream is quiet."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiohttp
import psutil
import pytest

from candleflow.stack import StackInfo
from candleflow.stack.ports import free_port
from tests.harness import Names, WorkerFactory, WorkerProcess, create_topics
from tests.harness.engine import publish, wait_absorbed
from tests.harness.sse import SYMBOL, Reader, stream
from tests.harness.waiting import eventually
from tests.harness.worker import WEB

pytestmark = pytest.mark.integration

#: Streams opened at most until each web process holds one (the kernel picks by hash).
MAX_STREAMS = 40


async def _get(session: aiohttp.ClientSession, url: str, **params: Any) -> tuple[int, Any]:
    async with session.get(url, params=params) as response:
        return response.status, await response.json(content_type=None)


def _held(process: WorkerProcess, port: int) -> int:
    """Established connections `process` holds on `port` (the streams the kernel gave it)."""
    assert process.pid is not None
    return sum(
        1
        for c in psutil.Process(process.pid).net_connections("tcp")
        if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port
    )


async def _history(session: aiohttp.ClientSession, url: str, times: list[int]) -> dict[int, tuple[float, ...]]:
    status, body = await _get(
        session, f"{url}/udf/history", symbol=SYMBOL, resolution="1S", **{"from": min(times), "to": max(times) + 1}
    )
    assert status == 200 and body["s"] == "ok", body
    columns = (body["t"], body["o"], body["h"], body["l"], body["c"])
    return {t: (o, h, lo, c) for t, o, h, lo, c in zip(*columns, strict=True)}


async def _agrees(session: aiohttp.ClientSession, url: str, reader: Reader) -> bool:
    shown = {b["time"]: (b["open"], b["high"], b["low"], b["close"]) for b in reader.bars()}
    return bool(shown) and await _history(session, url, list(shown)) == shown


async def test_an_engine_and_two_web_processes_on_one_port(
    stack: StackInfo, database_url: str, names: Names, worker_factory: WorkerFactory
) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2, names.updates_topic: 2, names.dead_topic: 1})
    engine = worker_factory.start(names.env(stack, database_url, role="engine", batch_within=0.05))
    port = free_port()
    web_env = names.env(stack, database_url, web_port=port, web_reuse_port="true", sse_heartbeat=1)
    webs = [worker_factory.start(web_env, WEB) for _ in range(2)]
    for process in (engine, *webs):
        await asyncio.to_thread(process.wait_ready, 90)
    shared = webs[0].url
    start_ms = (int(time.time()) - 30) * 1000
    ticks: list[dict[str, Any]] = [
        {"symbol": SYMBOL, "ts": start_ms + i * 150, "price": round(100 + (i * 7919 % 200) / 10, 1), "qty": 0.5}
        for i in range(300)
    ]
    async with aiohttp.ClientSession() as session, contextlib.AsyncExitStack() as opened:
        health = await eventually(lambda: _engine_running(session, engine.url), 60, what="the engine joined its group")
        assert (health["role"], sorted(health["engine"]["partitions"])) == ("engine", ["0", "1"])
        status, body = await _get(session, f"{engine.url}/udf/config")
        assert status == 404 and body["s"] == "error", "an engine process serves no chart"
        async with session.get(f"{engine.url}/metrics") as metrics:
            assert metrics.status == 200 and "candleflow_" in await metrics.text()
        status, health = await _get(session, f"{shared}/healthz")
        assert (status, health["role"], health["engine"]) == (200, "web", {"state": "none"})

        await publish(stack.kafka_bootstrap, names.ticks_topic, ticks[:1])  # the symbol must exist to subscribe
        await eventually(lambda: _symbol_known(session, shared), 60, what="the engine stored the first tick")
        readers: list[Reader] = []
        while min(_held(web, port) for web in webs) == 0:
            assert len(readers) < MAX_STREAMS, f"the kernel gave every one of {len(readers)} streams to one process"
            readers.append((await opened.enter_async_context(stream(session, shared, SYMBOL, "1S")))[1])
            await eventually(lambda: sum(_held(web, port) for web in webs) >= len(readers), 10, what="connected")
        for reader in readers:
            await reader.wait_for(lambda r: len(r.bars()) >= 1)
        for i in range(1, len(ticks), 20):
            await publish(stack.kafka_bootstrap, names.ticks_topic, ticks[i : i + 20])
        await wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
        last = max(t["ts"] for t in ticks) // 1000
        for reader in readers:
            await reader.wait_for(lambda r: bool(r.bars()) and r.bars()[-1]["time"] == last, timeout=60)
            await eventually(
                lambda r=reader: _agrees(session, shared, r),  # type: ignore[misc]
                30,
                what="the stream's bars equal /udf/history once quiet",
            )
            assert not any(e.kind == "reset" for e in reader.events)
        assert all(_held(web, port) >= 1 for web in webs), "both web processes served streams"


async def _engine_running(session: aiohttp.ClientSession, url: str) -> dict[str, Any] | None:
    status, health = await _get(session, f"{url}/healthz")
    return health if status == 200 and health["engine"].get("partitions") else None


async def _symbol_known(session: aiohttp.ClientSession, url: str) -> bool:
    status, _ = await _get(session, f"{url}/udf/symbols", symbol=SYMBOL)
    return status == 200
