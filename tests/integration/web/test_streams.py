"""`/udf/streams` (one connection, many series), resuming with Last-Event-ID, and a
worker crash between commit and publish — against real workers, Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import asyncpg
import pytest

from candleflow.stack import StackInfo
from tests.harness import Names, WorkerFactory, WorkerProcess
from tests.harness.engine import publish, wait_absorbed
from tests.integration.web.test_sse import OTHER, SYMBOL, Reader, T, metric, prepare, produce, reading, update

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def streams(
    session: aiohttp.ClientSession, worker: WorkerProcess, subs: Sequence[str], last_id: int | None = None
) -> AsyncIterator[tuple[aiohttp.ClientResponse, Reader]]:
    headers = {} if last_id is None else {"Last-Event-ID": str(last_id)}
    query = [("sub", sub) for sub in subs]
    async with reading(session, f"{worker.url}/udf/streams", query, headers) as opened:
        yield opened


def of(reader: Reader, kind: str, symbol: str, resolution: str) -> list[dict[str, Any]]:
    return [
        e.data
        for e in reader.events
        if e.kind == kind and e.data.get("symbol") == symbol and e.data.get("resolution") == resolution
    ]


def stream_id(reader: Reader) -> str:
    return str(next(e.data["stream"] for e in reader.events if e.kind == "hello"))


async def test_one_connection_carries_subscriptions_added_and_removed(
    stack: StackInfo, database_url: str, names: Names, worker_factory: WorkerFactory
) -> None:
    worker = await prepare(stack, database_url, names, worker_factory)
    async with aiohttp.ClientSession() as session, streams(session, worker, [f"{SYMBOL}|1"]) as (response, live):
        assert response.status == 200
        await live.wait_for(lambda r: len(of(r, "bar", SYMBOL, "1")) >= 1)
        assert [e.kind for e in live.events if e.kind != "comment"][:3] == ["hello", "subscribed", "bar"]
        subscribed = next(e.data for e in live.events if e.kind == "subscribed")
        assert subscribed == {"sub": f"{SYMBOL}|1", "symbol": SYMBOL, "resolution": "1"}
        sid = stream_id(live)
        async with session.post(
            f"{worker.url}/udf/streams/{sid}/subscribe", params=[("sub", f"{OTHER}|1"), ("sub", f"{SYMBOL}|5")]
        ) as answer:
            assert answer.status == 200
            assert [s["symbol"] for s in (await answer.json())["subscribed"]] == [OTHER, SYMBOL]
        await live.wait_for(lambda r: bool(of(r, "bar", OTHER, "1")) and bool(of(r, "bar", SYMBOL, "5")))
        assert await metric(worker, "candleflow_sse_clients") == 1
        await produce(
            stack.kafka_bootstrap,
            names.updates_topic,
            [update(SYMBOL, "1", T + 60, 102.0), update(OTHER, "1", T + 60, 55.0), update(SYMBOL, "5", T, 103.0)],
        )
        await live.wait_for(
            lambda r: (
                [b["close"] for b in of(r, "bar", SYMBOL, "1")][-1:] == [102.0]
                and [b["close"] for b in of(r, "bar", OTHER, "1")][-1:] == [55.0]
                and [b["close"] for b in of(r, "bar", SYMBOL, "5")][-1:] == [103.0]
            )
        )
        async with session.post(f"{worker.url}/udf/streams/{sid}/unsubscribe", params={"sub": f"{SYMBOL}|5"}) as answer:
            assert answer.status == 200
        # an older bar changes: the correction carries it; then a removed series changes
        await produce(
            stack.kafka_bootstrap,
            names.updates_topic,
            [update(SYMBOL, "5", T, 777.0), update(SYMBOL, "1", T, 99.0), update(SYMBOL, "1", T + 60, 104.0)],
        )
        await live.wait_for(lambda r: [b["close"] for b in of(r, "bar", SYMBOL, "1")][-1:] == [104.0])
        corrections = of(live, "correction", SYMBOL, "1")
        assert [(c["time"], c["close"]) for c in corrections] == [(T, 99.0)]
        assert not any(e.kind == "reset" for e in live.events)
        assert all(b["close"] != 777.0 for b in of(live, "bar", SYMBOL, "5"))
        ids = [e.id for e in live.events if e.kind != "comment" and e.id is not None]
        assert len(ids) == sum(e.kind != "comment" for e in live.events) and ids == sorted(ids)

        for params, status in (
            ({"sub": "no-bar-here"}, 400),
            ({"sub": "Nowhere:X/Y|1"}, 404),
            ({"sub": f"{SYMBOL}|2"}, 400),
        ):
            async with session.post(f"{worker.url}/udf/streams/{sid}/subscribe", params=params) as answer:
                assert answer.status == status and (await answer.json())["s"] == "error", params
        async with session.post(f"{worker.url}/udf/streams/nope/subscribe", params={"sub": f"{SYMBOL}|1"}) as answer:
            assert answer.status == 404 and (await answer.json())["errmsg"] == "unknown_stream"


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
    worker = await prepare(stack, database_url, names, worker_factory, batch_within=0.05)
    sub = f"{SYMBOL}|1"

    async def ticks(*records: tuple[int, float]) -> None:
        await publish(
            stack.kafka_bootstrap,
            names.ticks_topic,
            [{"symbol": SYMBOL, "ts": ts, "price": price, "qty": 0.5} for ts, price in records],
        )
        await wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)

    async with aiohttp.ClientSession() as session:
        async with streams(session, worker, [sub]) as (_, first):
            await first.wait_for(lambda r: len(of(r, "bar", SYMBOL, "1")) >= 1)
            await ticks(((T + 60) * 1000, 102.0))
            await first.wait_for(lambda r: [b["time"] for b in of(r, "bar", SYMBOL, "1")][-1:] == [T + 60])
            last_id = max(e.id for e in first.events if e.id is not None)
        # away: a late tick changes the older bar T, a new bar T+120 opens; T+60 stays
        await ticks((T * 1000 + 5000, 99.0), ((T + 125) * 1000, 104.0))
        stored = await _stored(database_url, SYMBOL, "1")
        async with streams(session, worker, [sub], last_id) as (_, resumed):
            await resumed.wait_for(lambda r: bool(of(r, "bar", SYMBOL, "1")))
            corrections = of(resumed, "correction", SYMBOL, "1")
            assert [(c["time"], ohlc(c)) for c in corrections] == [(T, stored[T])]
            assert [(b["time"], ohlc(b)) for b in of(resumed, "bar", SYMBOL, "1")] == [(T + 120, stored[T + 120])]
            assert not any(e.kind == "reset" for e in resumed.events)
            current_id = max(e.id for e in resumed.events if e.id is not None)
        async with streams(session, worker, [sub], current_id) as (_, quiet):
            await quiet.wait_for(lambda r: bool(of(r, "bar", SYMBOL, "1")))
            assert [b["time"] for b in of(quiet, "bar", SYMBOL, "1")] == [T + 120]
            assert not of(quiet, "correction", SYMBOL, "1") and not any(e.kind == "reset" for e in quiet.events)
        # an id from before anything the hub remembers: it cannot tell, so reset (and the current bar)
        async with streams(session, worker, [sub], 1) as (_, unknown):
            await unknown.wait_for(lambda r: bool(of(r, "bar", SYMBOL, "1")))
            assert of(unknown, "reset", SYMBOL, "1")


async def test_worker_killed_between_commit_and_publish_leaves_no_stale_chart(
    stack: StackInfo, database_url: str, names: Names, worker_factory: WorkerFactory
) -> None:
    """Worker A commits a change and dies before publishing it (a tick's worth of change
    is written to the database behind the engine's back, exactly the state such a crash
    leaves). A
    client of worker B, and a client of A that reconnects, both end on the stored bar
    once A restarts, without a new tick."""
    serving = await prepare(stack, database_url, names, worker_factory)
    crashing = worker_factory.start(names.env(stack, database_url, sse_heartbeat=1))
    await asyncio.to_thread(crashing.wait_ready, 90)
    sub = f"{SYMBOL}|1"
    async with aiohttp.ClientSession() as session, streams(session, serving, [sub]) as (_, live):
        await live.wait_for(lambda r: len(of(r, "bar", SYMBOL, "1")) >= 1)
        async with streams(session, crashing, [sub]) as (_, on_crashing):
            await on_crashing.wait_for(lambda r: len(of(r, "bar", SYMBOL, "1")) >= 1)
            last_id = max(e.id for e in on_crashing.events if e.id is not None)
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
        await live.wait_for(lambda r: [ohlc(b) for b in of(r, "bar", SYMBOL, "1")][-1:] == [expected], timeout=30)
        async with streams(session, crashing, [sub], last_id) as (_, reconnected):
            await reconnected.wait_for(lambda r: bool(of(r, "bar", SYMBOL, "1")))
            assert [ohlc(b) for b in of(reconnected, "bar", SYMBOL, "1")][-1] == expected
