"""The bar engine against the real broker and database: every stored bar, moving
average and mark equals an independent aggregation of the tick log (invariant 1),
whatever happens to the worker, the broker or the database on the way (invariant 2),
and however many workers share the work."""

from __future__ import annotations

import asyncio
import random
import re
from typing import Any

import aiohttp
import orjson
import pytest

from candleflow.stack import StackInfo
from tests.harness import Names
from tests.harness import engine as harness
from tests.harness.tickgen import generate
from tests.harness.waiting import eventually
from tests.harness.worker import log_size, wait_for_log

pytestmark = pytest.mark.integration

PARTITIONS = 4
MALFORMED = [
    b"{not json",
    orjson.dumps({"symbol": "Coinbase:BTC/USD", "ts": 1_732_406_400_000, "price": "abc", "qty": 1}),
    orjson.dumps({"symbol": "BTCUSD", "ts": 1_732_406_400_000, "price": 1.0, "qty": 1}),
    orjson.dumps({"symbol": "Coinbase:BTC/USD", "ts": 1_732_406_400_000, "price": 1.0, "qty": -1}),
    orjson.dumps({"symbol": "Coinbase:BTC/USD", "ts": 4_102_444_800_000, "price": 1.0, "qty": 1}),
]


def engine_env(names: Names, stack: StackInfo, database_url: str, **extra: str) -> dict[str, str]:
    return names.env(stack, database_url, CANDLEFLOW_TICKS_PARTITIONS=str(PARTITIONS), **extra)


async def assert_matches_reference(stack: Any, names: Any, database_url: str) -> None:
    await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    await harness.assert_matches_log(stack.kafka_bootstrap, names.ticks_topic, database_url)


async def caught_up_lag(url: str) -> dict[str, Any]:
    """`/healthz`'s engine section once its lag timer has seen every partition caught up."""
    async with aiohttp.ClientSession() as session:

        async def caught_up() -> dict[str, Any] | None:
            async with session.get(f"{url}/healthz") as response:
                engine: dict[str, Any] = (await response.json())["engine"]
            return engine if engine["partitions"] and engine["total"] == 0 else None

        engine: dict[str, Any] = await eventually(
            caught_up, 60, interval=0.5, what="/healthz reports every partition caught up"
        )
        return engine


async def test_bars_indicators_and_marks_equal_the_reference(
    stack: Any, names: Any, database_url: str, worker_factory: Any
) -> None:
    from tests.harness.kafka import consume_all, create_topics

    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: PARTITIONS, names.dead_topic: PARTITIONS})
    ticks = generate(40_000, days=3.0, seed=11, late_fraction=0.08)
    records: list[dict[str, Any] | bytes] = [*ticks[:20_000], *MALFORMED, *ticks[20_000:]]
    await harness.publish(stack.kafka_bootstrap, names.ticks_topic, records)
    worker = worker_factory.start(engine_env(names, stack, database_url))
    await asyncio.to_thread(worker.wait_ready)
    await assert_matches_reference(stack, names, database_url)
    lag = await caught_up_lag(worker.url)
    assert set(lag["partitions"]) == {str(p) for p in range(PARTITIONS)} and lag["total"] == 0, lag
    dead = await consume_all(stack.kafka_bootstrap, names.dead_topic, timeout=30, expect=len(MALFORMED))
    reasons = [orjson.loads(value)["reason"] for _, value, _, _ in dead]
    assert len(reasons) == len(MALFORMED)
    assert all(reasons)


async def test_sigkill_at_random_moments_changes_nothing(
    stack: Any, names: Any, database_url: str, worker_factory: Any
) -> None:
    from tests.harness.kafka import create_topics

    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: PARTITIONS})
    ticks = generate(60_000, days=2.0, seed=23, late_fraction=0.05)
    worker = worker_factory.start(engine_env(names, stack, database_url, CANDLEFLOW_BATCH_MAX="2000"))
    await asyncio.to_thread(worker.wait_ready)
    streaming = asyncio.ensure_future(harness.publish(stack.kafka_bootstrap, names.ticks_topic, ticks, pace=0.15))
    rnd = random.Random(5)
    for _ in range(5):
        await asyncio.sleep(rnd.uniform(0.5, 3.0))
        worker.kill()
        worker.restart()
        await asyncio.to_thread(worker.wait_ready)
    await asyncio.sleep(rnd.uniform(0.5, 2.0))
    worker.terminate()
    worker.restart()
    await asyncio.to_thread(worker.wait_ready)
    await streaming
    await assert_matches_reference(stack, names, database_url)


async def test_two_workers_a_third_joining_and_leaving_and_one_killed_in_a_rebalance(
    stack: Any, names: Any, database_url: str, worker_factory: Any
) -> None:
    """Under load: two workers share the partitions, a third joins; the moment the
    rebalance revokes the second worker's partitions it is SIGKILLed; later the third
    leaves cleanly. The survivors end with exactly the reference bars."""
    from tests.harness.kafka import create_topics

    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: PARTITIONS})
    env = engine_env(names, stack, database_url, CANDLEFLOW_BATCH_MAX="2000")
    first, second = worker_factory.start(env), worker_factory.start(env)
    await asyncio.to_thread(first.wait_ready)
    await asyncio.to_thread(second.wait_ready)
    await wait_for_log(second, ASSIGNED, after=0)
    ticks = generate(200_000, days=1.0, seed=31)
    third_left = asyncio.Event()

    async def load() -> None:
        """Paced ticks until the third worker has left (at most all of `ticks`): a rebalance
        that takes longer on a loaded machine still happens under load."""
        for start in range(0, len(ticks), 5_000):
            await harness.publish(stack.kafka_bootstrap, names.ticks_topic, ticks[start : start + 5_000], pace=0.2)
            if third_left.is_set():
                return

    streaming = asyncio.ensure_future(load())
    await eventually(
        lambda: harness.absorbed(database_url, names.app_id, names.ticks_topic, 5_000), 60, what="5,000 ticks absorbed"
    )
    mark = log_size(second)
    third = worker_factory.start(env)
    await wait_for_log(second, REVOKED, after=mark)
    second.kill()
    await asyncio.to_thread(third.wait_ready)
    await wait_for_log(third, re.compile(re.escape(ASSIGNED) + r" \[\d"), after=0)  # it holds partitions
    assert not streaming.done(), "the load ended before the third worker left: publish more ticks"
    third.terminate()
    third_left.set()
    await streaming
    await assert_matches_reference(stack, names, database_url)
    assert first.running, "a rebalance took the surviving worker down"


ASSIGNED = "engine reader assigned partitions"
REVOKED = "engine reader: partitions revoked"


async def test_replay_into_an_empty_database_gives_identical_bars(
    stack: Any, names: Any, database_url: str, second_database: str, worker_factory: Any
) -> None:
    from tests.harness.kafka import create_topics

    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: PARTITIONS})
    await harness.publish(stack.kafka_bootstrap, names.ticks_topic, generate(20_000, days=2.0, seed=41))
    worker = worker_factory.start(engine_env(names, stack, database_url))
    await asyncio.to_thread(worker.wait_ready)
    await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    worker.terminate()
    second_url = second_database
    env = engine_env(names, stack, second_url, CANDLEFLOW_APP_ID=names.app_id + "-replay", CANDLEFLOW_BATCH_MAX="777")
    replayer = worker_factory.start(env)
    await asyncio.to_thread(replayer.wait_ready)
    await harness.wait_absorbed(second_url, names.app_id + "-replay", stack.kafka_bootstrap, names.ticks_topic)
    assert await harness.bars_digest(second_url) == await harness.bars_digest(database_url)
