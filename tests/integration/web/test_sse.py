"""`/udf/stream` against a real worker, real Kafka and real HTTP clients.

Bar updates are produced to the test's updates topic with aiokafka (or come from the
engine, for the history-and-live test); clients read the stream with aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from candleflow.stack import StackInfo
from tests.harness import Names, WorkerFactory, WorkerProcess, create_topics
from tests.harness.engine import publish
from tests.harness.reference import LogTick, reference_bars
from tests.harness.udf_seed import insert_bars, insert_symbols

pytestmark = pytest.mark.integration

SYMBOL = "Coinbase:BTC/USD"
OTHER = "Kraken:ETH/USD"
T = 1_704_067_200  # 2024-01-01T00:00Z


@dataclass
class Event:
    kind: str  # "bar", "correction", "reset", "hello", "subscribed" or "comment"
    data: Any = None
    id: int | None = None


@dataclass
class Reader:
    """Collects a stream's events in the background."""

    events: list[Event] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def bars(self) -> list[dict[str, Any]]:
        return [e.data for e in self.events if e.kind == "bar"]

    async def wait_for(self, predicate: Any, timeout: float = 15) -> None:  # noqa: ASYNC109 (a deadline over many waits)
        deadline = time.monotonic() + timeout
        while not predicate(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"stream condition not met; events: {self.events[-10:]}")
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), min(remaining, 0.5))


async def read_events(response: aiohttp.ClientResponse, reader: Reader) -> None:
    kind, data, event_id = "message", [], None
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith(":"):
            reader.events.append(Event("comment", line[1:].strip()))
        elif line.startswith("id:"):
            event_id = int(line[3:].strip())
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            reader.events.append(Event(kind, orjson.loads("\n".join(data)), event_id))
            kind, data, event_id = "message", [], None
        reader.arrived.set()


@contextlib.asynccontextmanager
async def reading(
    session: aiohttp.ClientSession, url: str, params: Any, headers: dict[str, str] | None = None
) -> AsyncIterator[tuple[aiohttp.ClientResponse, Reader]]:
    """An SSE response whose events a background task collects into a `Reader`."""
    async with session.get(url, params=params, headers=headers or {}) as response:
        reader = Reader()
        task = asyncio.create_task(read_events(response, reader))
        try:
            yield response, reader
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await task


@contextlib.asynccontextmanager
async def stream(
    session: aiohttp.ClientSession, worker: WorkerProcess, symbol: str, resolution: str
) -> AsyncIterator[tuple[aiohttp.ClientResponse, Reader]]:
    async with reading(session, f"{worker.url}/udf/stream", {"symbol": symbol, "resolution": resolution}) as opened:
        yield opened


def update(symbol: str, resolution: str, at: int, close: float, correction: bool = False) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "resolution": resolution,
        "time": at,
        "open": 100.0,
        "high": max(100.0, close),
        "low": min(100.0, close),
        "close": close,
        "volume": 1.5,
        "trades": 3,
        "correction": correction,
    }


async def produce(bootstrap: str, topic: str, records: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for record in records:
            key = f"{record['symbol']}|{record['resolution']}".encode()
            await producer.send(topic, orjson.dumps(record), key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def prepare(
    stack: StackInfo, database_url: str, names: Names, worker_factory: WorkerFactory, **extra: object
) -> WorkerProcess:
    """Topics, two symbols with one stored 1-minute bar each, and a started worker."""
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2, names.updates_topic: 4, names.dead_topic: 1})
    ticks = [LogTick(SYMBOL, T * 1000 + 5, 100.0, 1.0, 0), LogTick(OTHER, T * 1000 + 5, 50.0, 2.0, 1)]
    await insert_symbols(database_url, ticks, {SYMBOL: 2, OTHER: 2})
    await insert_bars(database_url, reference_bars(ticks))
    worker = worker_factory.start(names.env(stack, database_url, sse_heartbeat=1, **extra))
    await asyncio.to_thread(worker.wait_ready, 90)
    return worker


async def metric(worker: WorkerProcess, name: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(f"{worker.url}/metrics") as response:
        text = await response.text()
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_current_bar_updates_resets_and_heartbeats(
    stack: StackInfo, database_url: str, names: Names, worker_factory: WorkerFactory
) -> None:
    worker = await prepare(stack, database_url, names, worker_factory)
    async with (
        aiohttp.ClientSession() as session,
        stream(session, worker, SYMBOL, "1") as (response, one),
        stream(session, worker, SYMBOL, "5") as (_, five),
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        # the current bar at once
        await one.wait_for(lambda r: len(r.bars()) >= 1)
        assert one.bars()[0] == {
            "symbol": SYMBOL,
            "resolution": "1",
            "time": T,
            "open": 100.0,
            "high": 100.0,
            "low": 100.0,
            "close": 100.0,
            "volume": 1.0,
            "trades": 1,
        }
        await five.wait_for(lambda r: len(r.bars()) >= 1)
        await produce(
            stack.kafka_bootstrap,
            names.updates_topic,
            [
                update(SYMBOL, "1", T, 101.0),  # same bar: replaces
                update(OTHER, "1", T + 60, 55.0),  # other symbol: not ours
                update(SYMBOL, "1", T + 60, 102.0),  # newer bar: appended
                update(SYMBOL, "5", T, 103.0),  # other resolution: only `five`
            ],
        )
        await one.wait_for(lambda r: any(b["time"] == T + 60 for b in r.bars()))
        await five.wait_for(lambda r: len(r.bars()) >= 2)
        await produce(stack.kafka_bootstrap, names.updates_topic, [update(SYMBOL, "1", T, 99.0)])  # older
        await one.wait_for(lambda r: any(e.kind == "reset" for e in r.events))
        await produce(stack.kafka_bootstrap, names.updates_topic, [update(SYMBOL, "1", T + 60, 104.0, correction=True)])
        await one.wait_for(lambda r: sum(e.kind == "reset" for e in r.events) >= 2)
        await one.wait_for(lambda r: any(e.kind == "comment" and e.data == "hb" for e in r.events), timeout=5)
        ids = [e.id for e in one.events if e.kind != "comment" and e.id is not None]
        # every event has an id, never decreasing
        assert len(ids) == sum(e.kind != "comment" for e in one.events) and ids == sorted(ids)
        bars = one.bars()
        assert all(b["symbol"] == SYMBOL and b["resolution"] == "1" for b in bars)
        assert [b["close"] for b in bars if b["time"] == T + 60] == [102.0]
        assert all(b["close"] != 99.0 for b in bars)  # the older bar never went out as a bar
        times = [b["time"] for b in bars]
        assert times == sorted(times)  # never a time violation
        assert [b["close"] for b in five.bars()][-1] == 103.0
        assert not any(e.kind == "reset" for e in five.events)


async def test_client_limit_and_prompt_disconnect(
    stack: StackInfo, database_url: str, names: Names, worker_factory: WorkerFactory
) -> None:
    worker = await prepare(stack, database_url, names, worker_factory, sse_max_clients=2)
    async with aiohttp.ClientSession() as session:
        async with stream(session, worker, SYMBOL, "1") as (_, first):
            await first.wait_for(lambda r: len(r.bars()) >= 1)
            async with stream(session, worker, SYMBOL, "1") as (_, second):
                await second.wait_for(lambda r: len(r.bars()) >= 1)
                assert await metric(worker, "candleflow_sse_clients") == 2
                async with session.get(
                    f"{worker.url}/udf/stream", params={"symbol": SYMBOL, "resolution": "1"}
                ) as refused:
                    assert refused.status == 503
                    assert int(refused.headers["Retry-After"]) > 0
                    assert (await refused.json())["s"] == "error"
        # both closed by the client: the server notices within a couple of seconds
        deadline = time.monotonic() + 5
        while await metric(worker, "candleflow_sse_clients") != 0:
            assert time.monotonic() < deadline, "SSE clients not freed after disconnect"
            await asyncio.sleep(0.2)
        async with session.get(f"{worker.url}/udf/stream", params={"symbol": "Nowhere:X/Y", "resolution": "1"}) as r:
            assert r.status == 404 and (await r.json())["errmsg"] == "unknown_symbol"
        async with session.get(f"{worker.url}/udf/stream", params={"symbol": SYMBOL, "resolution": "2"}) as r:
            assert r.status == 400 and (await r.json())["s"] == "error"


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
    worker = await prepare(stack, database_url, names, worker_factory, sse_queue=queue, sse_max_clients=1000)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session, contextlib.AsyncExitStack() as streams:
        readers = [
            (await streams.enter_async_context(stream(session, worker, SYMBOL, "1S")))[1] for _ in range(readers_n)
        ]
        silent = [await _silent_client(worker.port, OTHER) for _ in range(silent_n)]
        try:
            deadline = time.monotonic() + 20
            while await metric(worker, "candleflow_sse_clients") < readers_n + silent_n:
                assert time.monotonic() < deadline, "not every client got connected"
                await asyncio.sleep(0.2)
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
            deadline = time.monotonic() + 60
            while await metric(worker, "candleflow_sse_clients_dropped_total") < silent_n:
                assert time.monotonic() < deadline, "silent clients were not dropped"
                await asyncio.sleep(0.5)
            growth = worker.rss_bytes() - rss_before
            assert growth < 150 * 1024 * 1024, f"worker grew by {growth / 1e6:.0f} MB"
            assert await metric(worker, "candleflow_sse_clients") == readers_n
        finally:
            for sock in silent:
                sock.close()


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
        deadline = time.monotonic() + 30
        while True:
            async with session.get(f"{worker.url}/udf/symbols", params={"symbol": SYMBOL}) as response:
                if response.status == 200:
                    break
            assert time.monotonic() < deadline, "the engine never stored the first tick"
            await asyncio.sleep(0.2)
        async with (
            stream(session, worker, SYMBOL, "1S") as (_, seconds),
            stream(session, worker, SYMBOL, "1") as (
                _,
                minutes,
            ),
        ):
            await seconds.wait_for(lambda r: len(r.bars()) >= 1)
            await minutes.wait_for(lambda r: len(r.bars()) >= 1)
            for i in range(1, len(ticks), 20):
                await publish(stack.kafka_bootstrap, names.ticks_topic, ticks[i : i + 20])
                await asyncio.sleep(0.05)
            final_second = (start_ms + 399 * 150) // 1000
            await seconds.wait_for(lambda r: bool(r.bars()) and r.bars()[-1]["time"] == final_second, timeout=30)
            await asyncio.sleep(2)  # quiet
            for reader, code in ((seconds, "1S"), (minutes, "1")):
                live: dict[int, dict[str, Any]] = {}
                for bar in reader.bars():
                    live[bar["time"]] = bar  # the latest event per bar is what the chart shows
                params: dict[str, str | int] = {
                    "symbol": SYMBOL,
                    "resolution": code,
                    "from": min(live),
                    "to": max(live) + 1,
                }
                async with session.get(f"{worker.url}/udf/history", params=params) as response:
                    history = await response.json()
                assert history["s"] == "ok"
                stored = {
                    t: (o, h, lo, c, v)
                    for t, o, h, lo, c, v in zip(
                        history["t"], history["o"], history["h"], history["l"], history["c"], history["v"], strict=True
                    )
                }
                assert set(stored) == set(live), code
                for t, bar in live.items():
                    assert (bar["open"], bar["high"], bar["low"], bar["close"]) == stored[t][:4], (code, t)
                    assert bar["volume"] == pytest.approx(stored[t][4]), (code, t)
                assert not any(e.kind == "reset" for e in reader.events)
