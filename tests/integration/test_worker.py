"""The `Worker` built in-process against the real broker and database, through its
constructor (the test seam): two workers in one event loop share the partitions, one
stops mid-stream, and the stored bars still equal the reference; lag is reported for
exactly the partitions a worker holds."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
import pytest

from candleflow.core.settings import Settings
from candleflow.engine.sink import KafkaSink
from candleflow.worker import Worker
from tests.harness import engine as harness
from tests.harness.kafka import create_topics
from tests.harness.tickgen import generate

pytestmark = pytest.mark.integration

PARTITIONS = 4


async def build(settings: Settings, database_url: str) -> Worker:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    return Worker(settings, pool, KafkaSink(settings))


async def until(predicate: Any, within: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        assert loop.time() < deadline, f"not within {within} s"
        await asyncio.sleep(0.1)


async def lag_settles(worker: Worker, expected: dict[int, int], within: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        await worker.monitor.look()
        if worker.status.lag == expected:
            return
        assert loop.time() < deadline, f"lag {worker.status.lag}, expected {expected}"
        await asyncio.sleep(0.2)


async def stop(worker: Worker, task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await worker.close()


async def test_two_in_process_workers_share_the_log_and_one_leaves(stack: Any, names: Any, database_url: str) -> None:
    topics = {names.ticks_topic: PARTITIONS, names.dead_topic: PARTITIONS, names.updates_topic: PARTITIONS}
    await create_topics(stack.kafka_bootstrap, topics)
    env = names.env(stack, database_url, CANDLEFLOW_TICKS_PARTITIONS=str(PARTITIONS), CANDLEFLOW_BATCH_MAX="1500")
    settings = Settings.from_env(env)
    ticks = generate(30_000, days=1.0, seed=71, late_fraction=0.05)
    first = await build(settings, database_url)
    first_task = asyncio.create_task(first.run())
    second = await build(settings, database_url)
    second_task: asyncio.Task[None] | None = None
    try:
        await until(lambda: first.reader.assigned == set(range(PARTITIONS)))
        await harness.publish(stack.kafka_bootstrap, names.ticks_topic, ticks[:10_000])
        second_task = asyncio.create_task(second.run())
        streaming = asyncio.create_task(
            harness.publish(stack.kafka_bootstrap, names.ticks_topic, ticks[10_000:], pace=0.05)
        )
        await until(lambda: bool(second.reader.assigned) and bool(first.reader.assigned))
        assert first.reader.assigned.isdisjoint(second.reader.assigned)
        # A partition held elsewhere has no highwater here (aiokafka's own highwater()
        # raises for it, which once crashed workers), and no lag in this worker's report.
        assert all(first.reader.highwater(p) is None for p in second.reader.assigned)
        await first.monitor.look()
        assert set(first.status.lag) <= first.reader.assigned
        await asyncio.sleep(1)
        await stop(second, second_task)
        second_task = None
        await streaming
        await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
        await harness.assert_matches_log(stack.kafka_bootstrap, names.ticks_topic, database_url)
        await until(lambda: first.reader.assigned == set(range(PARTITIONS)))
        # Lag is the log end minus the ledger, sampled: wait (bounded) until every partition
        # is reported caught up.
        await lag_settles(first, dict.fromkeys(range(PARTITIONS), 0))
        assert first.status.ticks_processed + second.status.ticks_processed == len(ticks)  # each once
    finally:
        if second_task is not None:
            await stop(second, second_task)
        await stop(first, first_task)
