"""Bar Replay against the real stack: an in-process worker's engine absorbs random ticks
(late and out-of-order ones among them), then the web application, served in-process,
replays from a time in the middle — at max speed and at 1x in virtual time — and each
replay ends on exactly what the store serves: `/udf/history` bars, `/api/indicators`
values and `/udf/marks` of the replayed range."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from candleflow.core.settings import Settings
from candleflow.domain.resolution import parse_resolution
from candleflow.functions.registry import from_settings
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.log_reader import LogReader
from candleflow.replay.events import Event
from candleflow.replay.session import Pacing, Replay, VirtualTime
from candleflow.stack import StackInfo
from candleflow.store.database import Database
from tests.harness import Names
from tests.harness.engine import publish, wait_absorbed
from tests.harness.inprocess import running_worker
from tests.harness.kafka import create_topics
from tests.harness.replay_client import ReplayClient, SeriesHeld, ohlcv, served
from tests.harness.sse import Reader, reading
from tests.harness.tickgen import generate
from tests.harness.web import serving

pytestmark = pytest.mark.integration

A, B = "Coinbase:BTC/USD", "Kraken:SOL/USD"
SERIES = [(A, "1"), (A, "1S"), (B, "5")]
HOUR_MS = 3_600_000
PARTITIONS = 4


async def absorbed(stack: StackInfo, database_url: str, names: Names, settings: Settings, end_ms: int) -> None:
    """Six hours of random ticks of A and B ending at `end_ms`, absorbed by a worker's engine."""
    await create_topics(
        stack.kafka_bootstrap, {names.ticks_topic: PARTITIONS, names.updates_topic: 2, names.dead_topic: 1}
    )
    ticks = generate(5_000, symbols=(A, B), days=0.25, seed=26, late_fraction=0.06, end_ms=end_ms)
    async with running_worker(settings, database_url, PARTITIONS):
        await publish(stack.kafka_bootstrap, names.ticks_topic, ticks)
        await wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)


async def replay_events(settings: Settings, start_ms: int, **options: Any) -> tuple[Replay, list[Event]]:
    """A whole replay run in this process, its events collected."""
    database = Database(settings.database_url, 2)
    events: list[Event] = []

    async def emit(batch: list[Event]) -> None:
        events.extend(batch)

    try:
        replay = Replay(
            [(symbol, parse_resolution(code)) for symbol, code in SERIES],
            start_ms,
            reader=LogReader(KafkaConfig.from_settings(settings), settings.ticks_topic, max_records=500),
            db=database,
            functions=from_settings(settings),
            future_tolerance_s=settings.future_tolerance,
            **options,
        )
        await replay.prepare()
        try:
            async with asyncio.timeout(240):
                await replay.run(emit)
        finally:
            await replay.close()
    finally:
        await database.close()
    return replay, events


async def check_exact(url: str, events: list[Event]) -> ReplayClient:
    """Apply `events` on top of the history before each series' start; compare with the store."""
    hello = events[0].data
    starts = {(s["symbol"], s["resolution"]): s["history_to"] for s in hello["series"]}
    far = int(time.time()) + 86_400
    async with aiohttp.ClientSession() as session:
        store = {key: await served(session, url, *key, start, far) for key, start in starts.items()}

    def refetch(symbol: str, resolution: str, start: int, end: int) -> SeriesHeld:
        held = SeriesHeld()
        held.replace(start, end, store[(symbol, resolution)])
        return held

    client = ReplayClient(refetch=refetch)
    client.apply_all((e.kind, e.data) for e in events)
    assert client.kinds[0] == "hello" and client.kinds[-1] == "caught_up"
    assert client.clocks == sorted(client.clocks)
    for key, start in starts.items():
        held = client.series[key]
        expected = store[key]
        assert expected.bars, f"{key}: nothing stored after {start}"
        assert ohlcv(held.bars) == ohlcv(expected.bars), key
        assert held.values == expected.values, key
        assert held.mark_keys() == expected.mark_keys(), key
    return client


def as_events(reader: Reader) -> list[Event]:
    return [Event(e.kind, e.data) for e in reader.events if e.kind != "comment"]


async def test_replays_end_on_the_stores_bars_values_and_marks_and_obey_their_controls(
    stack: StackInfo, database_url: str, names: Names
) -> None:
    """At max speed through `/udf/replay`, stepped, jumped and sped up by its controls,
    and at 1x in virtual time in this process: every replay ends exactly on the store."""
    settings = Settings.from_env(names.env(stack, database_url, replay_max=2, ticks_partitions=PARTITIONS))
    end_ms = int(time.time() * 1000) - 120_000
    await absorbed(stack, database_url, names, settings, end_ms)
    start_ms = end_ms - 3 * HOUR_MS + 17_345
    first = [("symbol", SERIES[0][0]), ("resolution", SERIES[0][1])]
    subs = first + [("sub", f"{symbol}|{code}") for symbol, code in SERIES[1:]]
    async with serving(settings) as server, aiohttp.ClientSession() as session:
        url = f"{server.url}/udf/replay"
        async with reading(session, url, [*subs, ("from", start_ms // 1000), ("speed", "max")]) as (response, fast):
            assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
            await fast.wait_for(lambda r: any(e.kind == "caught_up" for e in r.events), timeout=120)
        await check_exact(server.url, as_events(fast))

        one: dict[str, str | int] = {"symbol": A, "resolution": "1", "from": start_ms // 1000, "paused": "true"}
        async with reading(session, url, one) as (_, paced):
            await paced.wait_for(lambda r: any(e.kind == "hello" for e in r.events))
            replay = next(e.data["replay"] for e in paced.events if e.kind == "hello")
            controls = f"{url}/{replay}"
            first_bucket = start_ms // 60_000 * 60
            async with session.post(f"{controls}/step") as answer:
                assert answer.status == 200 and (await answer.json())["s"] == "ok"
            await paced.wait_for(lambda r: any(e.kind == "clock" and e.data["paused"] for e in r.events))
            stepped = as_events(paced)
            assert {e.data["time"] for e in stepped if e.kind in ("bar", "correction")} == {first_bucket}
            assert [e.data["from"] for e in stepped if e.kind == "indicators"] == [first_bucket]
            assert max(e.data["clock_ms"] for e in stepped) == (first_bucket + 60) * 1000
            jump_to = first_bucket + 3600
            async with session.post(f"{controls}/jump", params={"to": jump_to}) as answer:
                assert answer.status == 200
            await paced.wait_for(lambda r: any(e.data.get("clock_ms") == jump_to * 1000 for e in r.events))
            assert max(e.data["time"] for e in as_events(paced) if e.kind == "bar") < jump_to
            async with session.post(f"{controls}/jump", params={"to": first_bucket}) as answer:
                assert answer.status == 400  # back in time
            async with session.post(f"{controls}/speed", params={"speed": "0.5"}) as answer:
                assert answer.status == 400
            # a third replay is one too many
            async with reading(session, url, one) as (_, other):
                await other.wait_for(lambda r: any(e.kind == "hello" for e in r.events))
                async with session.get(url, params=one) as refused:
                    assert refused.status == 503 and "Retry-After" in refused.headers
            async with session.post(f"{controls}/speed", params={"speed": "max"}) as answer:
                assert (await answer.json())["speed"] is None
            async with session.post(f"{controls}/resume") as answer:
                assert (await answer.json())["paused"] is False
            await paced.wait_for(lambda r: any(e.kind == "caught_up" for e in r.events), timeout=120)
        client = await check_exact(server.url, as_events(paced))
        times = client.bar_times(A, "1")
        assert times == sorted(times)
        async with session.post(f"{controls}/pause") as answer:
            assert answer.status == 404 and (await answer.json())["errmsg"] == "unknown_replay"
        wrong: list[tuple[dict[str, str | int], int]] = [
            ({"symbol": A, "resolution": "1"}, 400),
            ({"symbol": A, "resolution": "1", "from": 0, "speed": "0"}, 400),
            ({"symbol": "Nowhere:X/Y", "resolution": "1", "from": 0}, 404),
            ({"symbol": A, "from": 0}, 400),
        ]
        for params, status in wrong:
            async with session.get(url, params=params) as answer:
                assert answer.status == status and (await answer.json())["s"] == "error", params

        virtual = VirtualTime()
        paced_1x, at_1x = await replay_events(
            settings, start_ms, speed=1.0, now=virtual.now, waiter=virtual, pacing=Pacing(window=500)
        )
        client = await check_exact(server.url, at_1x)
    assert paced_1x.caught_up and "correction" in client.kinds
    # 1x took about as long in virtual time as the replayed range
    assert virtual.at >= (end_ms - start_ms) / 1000 * 0.9
    assert "reset" in client.kinds  # ticks hours late fall outside a 500-bar window
