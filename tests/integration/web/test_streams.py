"""`/udf/streams` (one connection, many series and quotes) served in-process by the web
application, its hub following the test's updates topic on the real Kafka. (Resuming
after engine commits and a worker crash need workers: test_live_workers.py.)"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
import pytest

from candleflow.core.settings import Settings
from candleflow.stack import StackInfo
from tests.harness import Names
from tests.harness.reference import RefBar
from tests.harness.sse import (
    OTHER,
    SYMBOL,
    Reader,
    T,
    produce,
    reading,
    stream,
    stream_id,
    streams,
    two_series,
    update,
)
from tests.harness.udf_seed import insert_bars
from tests.harness.waiting import eventually
from tests.harness.web import LiveHub, Served, serving_live

pytestmark = pytest.mark.integration


@pytest.fixture
async def live(stack: StackInfo, database_url: str, names: Names) -> AsyncIterator[tuple[Served, LiveHub]]:
    await two_series(stack, database_url, names)
    async with serving_live(Settings.from_env(names.env(stack, database_url, sse_heartbeat=1))) as served:
        yield served


async def test_one_connection_carries_subscriptions_added_and_removed(
    stack: StackInfo, names: Names, live: tuple[Served, LiveHub]
) -> None:
    server, hub = live[0], live[1].hub
    url = server.url
    async with aiohttp.ClientSession() as session, streams(session, url, [f"{SYMBOL}|1"]) as (response, reader):
        assert response.status == 200
        await reader.wait_for(lambda r: len(r.of("bar", SYMBOL, "1")) >= 1)
        assert [e.kind for e in reader.events if e.kind != "comment"][:3] == ["hello", "subscribed", "bar"]
        subscribed = next(e.data for e in reader.events if e.kind == "subscribed")
        assert subscribed == {"sub": f"{SYMBOL}|1", "symbol": SYMBOL, "resolution": "1"}
        sid = stream_id(reader)
        async with session.post(
            f"{url}/udf/streams/{sid}/subscribe", params=[("sub", f"{OTHER}|1"), ("sub", f"{SYMBOL}|5")]
        ) as answer:
            assert answer.status == 200
            assert [s["symbol"] for s in (await answer.json())["subscribed"]] == [OTHER, SYMBOL]
        await reader.wait_for(lambda r: bool(r.of("bar", OTHER, "1")) and bool(r.of("bar", SYMBOL, "5")))
        assert hub.clients == 1
        await produce(
            stack.kafka_bootstrap,
            names.updates_topic,
            [update(SYMBOL, "1", T + 60, 102.0), update(OTHER, "1", T + 60, 55.0), update(SYMBOL, "5", T, 103.0)],
        )
        await reader.wait_for(
            lambda r: (
                [b["close"] for b in r.of("bar", SYMBOL, "1")][-1:] == [102.0]
                and [b["close"] for b in r.of("bar", OTHER, "1")][-1:] == [55.0]
                and [b["close"] for b in r.of("bar", SYMBOL, "5")][-1:] == [103.0]
            )
        )
        async with session.post(f"{url}/udf/streams/{sid}/unsubscribe", params={"sub": f"{SYMBOL}|5"}) as answer:
            assert answer.status == 200
        # an older bar changes: the correction carries it; then a removed series changes
        await produce(
            stack.kafka_bootstrap,
            names.updates_topic,
            [update(SYMBOL, "5", T, 777.0), update(SYMBOL, "1", T, 99.0), update(SYMBOL, "1", T + 60, 104.0)],
        )
        await reader.wait_for(lambda r: [b["close"] for b in r.of("bar", SYMBOL, "1")][-1:] == [104.0])
        corrections = reader.of("correction", SYMBOL, "1")
        assert [(c["time"], c["close"]) for c in corrections] == [(T, 99.0)]
        assert not any(e.kind == "reset" for e in reader.events)
        assert all(b["close"] != 777.0 for b in reader.of("bar", SYMBOL, "5"))
        ids = [e.id for e in reader.events if e.kind != "comment" and e.id is not None]
        assert len(ids) == sum(e.kind != "comment" for e in reader.events) and ids == sorted(ids)

        for params, status in (
            ({"sub": "no-bar-here"}, 400),
            ({"sub": "Nowhere:X/Y|1"}, 404),
            ({"sub": f"{SYMBOL}|2"}, 400),
            ([("sub", f"{SYMBOL}|1")] * 65, 400),
        ):
            async with session.post(f"{url}/udf/streams/{sid}/subscribe", params=params) as answer:
                assert answer.status == status and (await answer.json())["s"] == "error", params
        async with session.post(f"{url}/udf/streams/nope/subscribe", params={"sub": f"{SYMBOL}|1"}) as answer:
            assert answer.status == 404 and (await answer.json())["errmsg"] == "unknown_stream"


async def test_a_single_series_stream_takes_no_subscriptions(live: tuple[Served, LiveHub]) -> None:
    server, hub = live[0], live[1].hub
    async with aiohttp.ClientSession() as session, stream(session, server.url, SYMBOL, "1") as (_, reader):
        await reader.wait_for(lambda r: len(r.bars()) >= 1)
        (single,) = hub.connections
        async with session.post(f"{server.url}/udf/streams/{single}/subscribe", params={"sub": f"{OTHER}|1"}) as answer:
            assert answer.status == 404 and (await answer.json())["errmsg"] == "unknown_stream"


def quotes_of(reader: Reader, name: str) -> list[dict[str, Any]]:
    return [e.data for e in reader.events if e.kind == "quote" and e.data["n"] == name]


async def test_quotes_stream_on_the_same_connection_and_end_equal_to_udf_quotes(
    stack: StackInfo, database_url: str, names: Names, live: tuple[Served, LiveHub]
) -> None:
    """A quote at once (an unknown name's error item too), then one per change of the
    symbol's 1-minute bar at most every 0.5 s, ending on what `/udf/quotes` answers; a
    quote added by POST, and removed."""
    server = live[0]
    url = server.url
    params = [("sub", f"{SYMBOL}|1"), ("quote", SYMBOL), ("quote", "Nowhere:X/Y")]
    async with aiohttp.ClientSession() as session, reading(session, f"{url}/udf/streams", params) as (_, reader):
        await reader.wait_for(lambda r: bool(quotes_of(r, SYMBOL)) and bool(quotes_of(r, "Nowhere:X/Y")))
        assert quotes_of(reader, "Nowhere:X/Y") == [{"s": "error", "n": "Nowhere:X/Y", "v": {}}]
        sid = stream_id(reader)
        async with session.post(f"{url}/udf/streams/{sid}/subscribe", params={"quote": OTHER}) as answer:
            assert answer.status == 200 and (await answer.json())["quotes"] == [OTHER]
        await reader.wait_for(lambda r: bool(quotes_of(r, OTHER)))

        # the engine's part: a new 1-minute bar changing 20 times, each change committed, then published
        minute = (T + 60) * 1000
        await insert_bars(database_url, {(SYMBOL, "1", minute): RefBar(100.0, 100.0, 100.0, 100.0, Decimal(1), 1)})
        conn = await asyncpg.connect(database_url)
        started = time.monotonic()
        try:
            for step in range(1, 21):
                close = 100.0 + step
                await conn.execute(
                    "UPDATE bars SET close = $1, high = $1 WHERE symbol = $2 AND resolution = '1' AND bucket = $3",
                    close,
                    SYMBOL,
                    datetime.fromtimestamp(minute / 1000, UTC),
                )
                await produce(stack.kafka_bootstrap, names.updates_topic, [update(SYMBOL, "1", T + 60, close)])
        finally:
            await conn.close()

        async def served() -> dict[str, Any]:
            async with session.get(f"{url}/udf/quotes", params={"symbols": SYMBOL}) as answer:
                return dict((await answer.json())["d"][0])

        expected = await served()
        assert expected["v"]["lp"] == 120.0
        await reader.wait_for(lambda r: quotes_of(r, SYMBOL)[-1] == expected)
        elapsed = time.monotonic() - started
        # at most one quote per symbol every half second (besides the one sent at once)
        assert len(quotes_of(reader, SYMBOL)) <= 2 + elapsed / 0.5
        assert len(quotes_of(reader, OTHER)) == 1  # nothing changed for it
        assert await served() == quotes_of(reader, SYMBOL)[-1]

        board = server.context.quotes
        async with session.post(f"{url}/udf/streams/{sid}/unsubscribe", params={"quote": SYMBOL}) as answer:
            assert answer.status == 200
        assert set(board.followers) == {OTHER}
    await eventually(lambda: not board.followers, 10, what="the closed stream's quotes dropped")
