"""`/udf/stream` served in-process by the web application, with its SSE hub following
the test's updates topic on the real Kafka and reading the real PostgreSQL; clients read
the stream with aiohttp. Bar updates are produced to the updates topic directly. (What
needs the engine, a whole worker, is in test_live_workers.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from candleflow.core.settings import Settings
from candleflow.stack import StackInfo
from tests.harness import Names
from tests.harness.sse import OTHER, SYMBOL, T, produce, stream, two_series, update
from tests.harness.waiting import eventually
from tests.harness.web import LiveHub, Served, serving, serving_live

pytestmark = pytest.mark.integration


@pytest.fixture
async def live(stack: StackInfo, database_url: str, names: Names) -> AsyncIterator[tuple[Served, LiveHub]]:
    """Two stored series and their application, heartbeats every second, two clients at most."""
    await two_series(stack, database_url, names)
    settings = Settings.from_env(names.env(stack, database_url, sse_heartbeat=1, sse_max_clients=2))
    async with serving_live(settings) as served:
        yield served


async def test_current_bar_updates_resets_and_heartbeats(
    stack: StackInfo, names: Names, live: tuple[Served, LiveHub]
) -> None:
    server, _ = live
    async with (
        aiohttp.ClientSession() as session,
        stream(session, server.url, SYMBOL, "1") as (response, one),
        stream(session, server.url, SYMBOL, "5") as (_, five),
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
        await one.wait_for(lambda r: any(e.kind == "comment" and e.data == "hb" for e in r.events))
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


async def test_client_limit_and_prompt_disconnect(live: tuple[Served, LiveHub]) -> None:
    server, hub = live[0], live[1].hub
    url = f"{server.url}/udf/stream"
    async with aiohttp.ClientSession() as session:
        async with stream(session, server.url, SYMBOL, "1") as (_, first):
            await first.wait_for(lambda r: len(r.bars()) >= 1)
            async with stream(session, server.url, SYMBOL, "1") as (_, second):
                await second.wait_for(lambda r: len(r.bars()) >= 1)
                assert hub.clients == 2
                async with session.get(url, params={"symbol": SYMBOL, "resolution": "1"}) as refused:
                    assert refused.status == 503
                    assert int(refused.headers["Retry-After"]) > 0
                    assert (await refused.json())["s"] == "error"
        # both closed by the client: the server notices (its sweep runs every second)
        await eventually(lambda: hub.clients == 0, 10, what="SSE clients freed after disconnect")
        async with session.get(url, params={"symbol": "Nowhere:X/Y", "resolution": "1"}) as r:
            assert r.status == 404 and (await r.json())["errmsg"] == "unknown_symbol"
        async with session.get(url, params={"symbol": SYMBOL, "resolution": "2"}) as r:
            assert r.status == 400 and (await r.json())["s"] == "error"
        async with session.get(url, params={"symbol": SYMBOL, "resolution": "1", "last_event_id": "x" * 41}) as r:
            assert r.status == 400 and "last_event_id" in (await r.json())["errmsg"]


async def test_a_stream_before_any_worker_is_a_retryable_503(stack: StackInfo, database_url: str, names: Names) -> None:
    await two_series(stack, database_url, names)
    settings = Settings.from_env(names.env(stack, database_url))
    url = "/udf/streams/abc/subscribe"
    async with (
        serving(settings) as server,
        aiohttp.ClientSession() as session,
        session.post(f"{server.url}{url}", params={"sub": f"{SYMBOL}|1"}) as r,
    ):
        assert r.status == 503 and r.headers["Retry-After"] == "2"
        assert "starting" in (await r.json())["errmsg"]
