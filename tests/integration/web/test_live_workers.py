"""Live bars through whole workers (engine, hub and web application in one process, as
`candleflow worker` runs them) against the real Kafka and PostgreSQL: what only a
worker can show — a worker's memory under silent clients, history and live agreeing
while ticks stream through the engine, resuming after engine commits, and a crash
between commit and publish."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import time
from typing import Any

import aiohttp
import asyncpg
import pytest

from candleflow.stack import StackInfo
from tests.harness import Names, WorkerFactory, WorkerProcess, create_topics
from tests.harness.engine import publish, wait_absorbed
from tests.harness.sse import OTHER, SYMBOL, Reader, T, metric, produce, stream, streams, two_series, update
from tests.harness.waiting import eventually

pytestmark = pytest.mark.integration


async def started(
    stack: StackInfo, database_url: str, names: Names, worker_factory: WorkerFactory, **extra: object
) -> WorkerProcess:
    """Two stored series and a worker serving them (heartbeats every second)."""
    await two_series(stack, database_url, names)
    worker = worker_factory.start(names.env(stack, database_url, sse_heartbeat=1, **extra))
    await asyncio.to_thread(worker.wait_ready, 90)
    return worker


async def _silent_client(port: int, symbol: str) -> socket.socket:
    """Connects, asks for the stream, and never reads a byte (small receive buffer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    request = f"GET /udf/stream?symbol={symbol}&resolution=1S HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
    await loop.sock_sendall(sock, request.encode())
    return sock


@pytest.mark.slow
async def test_hundreds_of_clients_readers_served_silent_dropped(
    stack: StackInfo, database_url: str, names: Names, worker_factory: WorkerFactory
) -> None:
    readers_n, silent_n, queue = 300, 100, 16
    worker = await started(stack, database_url, names, worker_factory, sse_queue=queue, sse_max_clients=1000)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session, contextlib.AsyncExitStack() as opened:
        readers = [
            (await opened.enter_async_context(stream(session, worker.url, SYMBOL, "1S")))[1] for _ in range(readers_n)
        ]
        silent = [await _silent_client(worker.port, OTHER) for _ in range(silent_n)]
        try:
            await eventually(
                lambda: _at_least(worker.url, "candleflow_sse_clients", readers_n + silent_n),
                60,
                what="every client connected",
            )
            rss_before = worker.rss_bytes()
            # the silent clients' symbol gets a flood of distinct bars; the readers' a steady stream
            flood = [update(OTHER, "1S", T + i, 50.0 + (i % 100) / 10) for i in range(20_000)]
            steady = [update(SYMBOL, "1S", T + i, 100.0 + i) for i in range(1, 301)]
            for n, i in enumerate(range(0, len(flood), 1000)):
                await produce(
                    stack.kafka_bootstrap, names.updates_topic, flood[i : i + 1000] + steady[n * 15 : n * 15 + 15]
                )
            last = steady[-1]
            for reader in readers:
                await reader.wait_for(lambda r: bool(r.bars()) and r.bars()[-1]["time"] == last["time"], timeout=60)
                bars = reader.bars()
                assert bars[-1]["close"] == last["close"]
                times = [b["time"] for b in bars]
                assert times == sorted(times)
            await eventually(
                lambda: _at_least(worker.url, "candleflow_sse_clients_dropped_total", silent_n),
                60,
                what="silent clients dropped",
            )
            growth = worker.rss_bytes() - rss_before
            assert growth < 150 * 1024 * 1024, f"worker grew by {growth / 1e6:.0f} MB"
            assert await metric(worker.url, "candleflow_sse_clients") == readers_n
        finally:
            for sock in silent:
                sock.close()


async def _at_least(url: str, name: str, value: float) -> bool:
    return await metric(url, name) >= value


async def _history(session: aiohttp.ClientSession, url: str, code: str, live: dict[int, Any]) -> dict[int, Any]:
    params: dict[str, str | int] = {"symbol": SYMBOL, "resolution": code, "from": min(live), "to": max(live) + 1}
    async with session.get(f"{url}/udf/history", params=params) as response:
        history = await response.json()
    assert history["s"] == "ok"
    columns = (history["t"], history["o"], history["h"], history["l"], history["c"], history["v"])
    return {t: (o, h, lo, c, v) for t, o, h, lo, c, v in zip(*columns, strict=True)}


def _shown(bars: list[dict[str, Any]]) -> dict[int, Any]:
    """The latest event per bar: what the chart shows."""
    return {bar["time"]: (bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"]) for bar in bars}


async def test_history_and_live_agree(
    stack: StackInfo, database_url: str, names: Names, worker_factory: WorkerFactory
) -> None:
    """Bars received over SSE while ticks stream equal /udf/history once the stream is quiet."""
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2, names.updates_topic: 2, names.dead_topic: 1})
    worker = worker_factory.start(names.env(stack, database_url, sse_heartbeat=1, batch_within=0.05))
    await asyncio.to_thread(worker.wait_ready, 90)
    start_ms = (int(time.time()) - 30) * 1000
    ticks = [
        {"symbol": SYMBOL, "ts": start_ms + i * 150, "price": round(100 + (i * 7919 % 200) / 10, 1), "qty": 0.5}
        for i in range(400)
    ]
    await publish(stack.kafka_bootstrap, names.ticks_topic, ticks[:1])  # the symbol must exist to subscribe
    async with aiohttp.ClientSession() as session:

        async def symbol_stored() -> bool:
            async with session.get(f"{worker.url}/udf/symbols", params={"symbol": SYMBOL}) as response:
                return response.status == 200

        await eventually(symbol_stored, 60, what="the engine stored the first tick")
        async with (
            stream(session, worker.url, SYMBOL, "1S") as (_, seconds),
            stream(session, worker.url, SYMBOL, "1") as (_, minutes),
        ):
            await seconds.wait_for(lambda r: len(r.bars()) >= 1)
            await minutes.wait_for(lambda r: len(r.bars()) >= 1)
            for i in range(1, len(ticks), 20):
                await publish(stack.kafka_bootstrap, names.ticks_topic, ticks[i : i + 20])
            await wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
            for reader, code in ((seconds, "1S"), (minutes, "1")):
                await eventually(
                    functools.partial(_agree, session, worker.url, code, reader),
                    30,
                    what=f"{code} bars over SSE equal to /udf/history once quiet",
                )
                assert not any(e.kind == "reset" for e in reader.events)


async def _agree(session: aiohttp.ClientSession, url: str, code: str, reader: Reader) -> bool:
    live = _shown(reader.bars())
    stored = await _history(session, url, code, live)
    return set(stored) == set(live) and all(
        live[t][:4] == stored[t][:4] and live[t][4] == pytest.approx(stored[t][4]) for t in live
    )


async def _stored(database_url: str, symbol: str, resolution: str) -> dict[int, tuple[float, float, float, float]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT extract(epoch FROM bucket)::int8 AS t, open, high, low, close FROM bars"
            " WHERE symbol = $1 AND resolution = $2",
            symbol,
            resolution,
        )
    finally:
        await conn.close()
    return {r["t"]: (r["open"], r["high"], r["low"], r["close"]) for r in rows}


def ohlc(bar: dict[str, Any]) -> tuple[float, float, float, float]:
    return (bar["open"], bar["high"], bar["low"], bar["close"])


async def test_reconnecting_with_last_event_id_resumes_without_a_reset(
    stack: StackInfo, database_url: str, names: Names, worker_factory: WorkerFactory
) -> None:
    worker = await started(stack, database_url, names, worker_factory, batch_within=0.05)
    sub = f"{SYMBOL}|1"

    async def ticks(*records: tuple[int, float]) -> None:
        await publish(
            stack.kafka_bootstrap,
            names.ticks_topic,
            [{"symbol": SYMBOL, "ts": ts, "price": price, "qty": 0.5} for ts, price in records],
        )
        await wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)

    async with aiohttp.ClientSession() as session:
        async with streams(session, worker.url, [sub]) as (_, first):
            await first.wait_for(lambda r: len(r.of("bar", SYMBOL, "1")) >= 1)
            await ticks(((T + 60) * 1000, 102.0))
            await first.wait_for(lambda r: [b["time"] for b in r.of("bar", SYMBOL, "1")][-1:] == [T + 60])
            last_id = first.last_id
        # away: a late tick changes the older bar T, a new bar T+120 opens; T+60 stays
        await ticks((T * 1000 + 5000, 99.0), ((T + 125) * 1000, 104.0))
        stored = await _stored(database_url, SYMBOL, "1")
        async with streams(session, worker.url, [sub], last_id) as (_, resumed):
            await resumed.wait_for(lambda r: bool(r.of("bar", SYMBOL, "1")))
            corrections = resumed.of("correction", SYMBOL, "1")
            assert [(c["time"], ohlc(c)) for c in corrections] == [(T, stored[T])]
            assert [(b["time"], ohlc(b)) for b in resumed.of("bar", SYMBOL, "1")] == [(T + 120, stored[T + 120])]
            assert not any(e.kind == "reset" for e in resumed.events)
            current_id = resumed.last_id
        async with streams(session, worker.url, [sub], current_id) as (_, quiet):
            await quiet.wait_for(lambda r: bool(r.of("bar", SYMBOL, "1")))
            assert [b["time"] for b in quiet.of("bar", SYMBOL, "1")] == [T + 120]
            assert not quiet.of("correction", SYMBOL, "1") and not any(e.kind == "reset" for e in quiet.events)
        # an id from before anything the hub remembers: it cannot tell, so reset (and the current bar)
        async with streams(session, worker.url, [sub], 1) as (_, unknown):
            await unknown.wait_for(lambda r: bool(r.of("bar", SYMBOL, "1")))
            assert unknown.of("reset", SYMBOL, "1")


async def test_worker_killed_between_commit_and_publish_leaves_no_stale_chart(
    stack: StackInfo, database_url: str, names: Names, worker_factory: WorkerFactory
) -> None:
    """Worker A commits a change and dies before publishing it (a tick's worth of change
    is written to the database behind the engine's back, exactly the state such a crash
    leaves). A client of worker B, and a client of A that reconnects, both end on the
    stored bar once A restarts, without a new tick."""
    serving = await started(stack, database_url, names, worker_factory)
    crashing = worker_factory.start(names.env(stack, database_url, sse_heartbeat=1))
    await asyncio.to_thread(crashing.wait_ready, 90)
    sub = f"{SYMBOL}|1"
    async with aiohttp.ClientSession() as session, streams(session, serving.url, [sub]) as (_, live):
        await live.wait_for(lambda r: len(r.of("bar", SYMBOL, "1")) >= 1)
        async with streams(session, crashing.url, [sub]) as (_, on_crashing):
            await on_crashing.wait_for(lambda r: len(r.of("bar", SYMBOL, "1")) >= 1)
            last_id = on_crashing.last_id
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute(
                    "UPDATE bars SET close = 123.0, high = 123.0, volume = volume + 0.5, trades = trades + 1"
                    " WHERE symbol = $1 AND resolution = '1' AND bucket = to_timestamp($2)",
                    SYMBOL,
                    T,
                )
            finally:
                await conn.close()
            await asyncio.to_thread(crashing.kill)
        await asyncio.to_thread(crashing.restart)
        await asyncio.to_thread(crashing.wait_ready, 90)
        params: dict[str, str | int] = {"symbol": SYMBOL, "resolution": "1", "from": T, "to": T + 60}
        async with session.get(f"{serving.url}/udf/history", params=params) as answer:
            history = await answer.json()
        expected = (history["o"][0], history["h"][0], history["l"][0], history["c"][0])
        assert expected[3] == 123.0
        await live.wait_for(lambda r: [ohlc(b) for b in r.of("bar", SYMBOL, "1")][-1:] == [expected], timeout=60)
        async with streams(session, crashing.url, [sub], last_id) as (_, reconnected):
            await reconnected.wait_for(lambda r: bool(r.of("bar", SYMBOL, "1")))
            assert [ohlc(b) for b in reconnected.of("bar", SYMBOL, "1")][-1] == expected
