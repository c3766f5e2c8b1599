"""The `Worker` built in-process against the real broker and database, through its
constructor (the test seam): two workers in one event loop share the partitions, one
stops mid-stream, and the stored bars still equal the reference; lag is reported for
exactly the partitions a worker holds."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from candleflow.core.settings import Settings
from candleflow.engine.sink import KafkaSink
from candleflow.kafka.config import KafkaConfig
from candleflow.store.database import Database
from candleflow.worker import Worker
from tests.harness import engine as harness
from tests.harness.kafka import create_topics
from tests.harness.tickgen import generate
from tests.harness.waiting import eventually

pytestmark = pytest.mark.integration

PARTITIONS = 4


async def build(settings: Settings, database_url: str) -> Worker:
    database = await Database(database_url, 2).connected()
    return Worker(settings, database, KafkaSink(settings, KafkaConfig.from_settings(settings)))


async def lag_is(worker: Worker, expected: dict[int, int]) -> bool:
    await worker.monitor.look()
    return worker.status.lag == expected


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
        await eventually(lambda: first.reader.assigned == set(range(PARTITIONS)), 60, what="the first holds all")
        await harness.publish(stack.kafka_bootstrap, names.ticks_topic, ticks[:10_000])
        second_task = asyncio.create_task(second.run())
        streaming = asyncio.create_task(
            harness.publish(stack.kafka_bootstrap, names.ticks_topic, ticks[10_000:], pace=0.05)
        )
        await eventually(
            lambda: bool(second.reader.assigned) and bool(first.reader.assigned), 60, what="both hold partitions"
        )
        assert first.reader.assigned.isdisjoint(second.reader.assigned)
        # A partition held elsewhere has no highwater here (aiokafka's own highwater()
        # raises for it, which once crashed workers), and no lag in this worker's report.
        assert all(first.reader.highwater(p) is None for p in second.reader.assigned)
        await first.monitor.look()
        assert set(first.status.lag) <= first.reader.assigned
        await eventually(lambda: second.status.ticks_processed > 0, 60, what="the second worker absorbed ticks")
        await stop(second, second_task)
        second_task = None
        await streaming
        await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
        await harness.assert_matches_log(stack.kafka_bootstrap, names.ticks_topic, database_url)
        await eventually(lambda: first.reader.assigned == set(range(PARTITIONS)), 60, what="the first holds all again")
        # Lag is the log end minus the ledger, sampled: wait (bounded) until every partition
        # is reported caught up.
        caught_up = dict.fromkeys(range(PARTITIONS), 0)
        await eventually(lambda: lag_is(first, caught_up), 60, what=f"lag reported as {caught_up}")
        assert first.status.ticks_processed + second.status.ticks_processed == len(ticks)  # each once
    finally:
        if second_task is not None:
            await stop(second, second_task)
        await stop(first, first_task)
