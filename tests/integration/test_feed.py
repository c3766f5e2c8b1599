"""The worker's own feed runs on the group leader only, and moves when the leader dies:
two workers never double the ticks, and killing the leader does not stop them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.harness import engine as harness

pytestmark = pytest.mark.integration

RATE = 40


async def ticks_per_second(stack: Any, topic: str, seconds: float) -> float:
    before = sum((await harness.highwaters(stack.kafka_bootstrap, topic)).values())
    started = time.monotonic()
    await asyncio.sleep(seconds)
    after = sum((await harness.highwaters(stack.kafka_bootstrap, topic)).values())
    return (after - before) / (time.monotonic() - started)


def leads(worker: Any) -> bool:
    """Whether the worker's log says it runs the feed now."""
    text = str(worker.log_path.read_text(errors="replace"))
    return text.rfind("leads the group: starting") > text.rfind("no longer leads the group")


async def test_one_feed_per_group_and_it_survives_the_leader(
    stack: Any, names: Any, database_url: str, worker_factory: Any
) -> None:
    from tests.harness.kafka import create_topics

    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2})
    env = names.env(
        stack,
        database_url,
        CANDLEFLOW_TICKS_PARTITIONS="2",
        CANDLEFLOW_SOURCE="synthetic",
        CANDLEFLOW_SYNTHETIC_RATE=str(RATE),
    )
    workers = [worker_factory.start(env), worker_factory.start(env)]
    for worker in workers:
        await asyncio.to_thread(worker.wait_ready)
    deadline = time.monotonic() + 60
    while sum(leads(w) for w in workers) != 1:
        assert time.monotonic() < deadline, "no single worker took the feed"
        await asyncio.sleep(0.5)
    await asyncio.sleep(3)
    rate = await ticks_per_second(stack, names.ticks_topic, 8)
    assert 0.3 * RATE < rate < 1.5 * RATE, f"{rate:.1f} ticks/s with two workers: the feed ran twice or not at all"

    leader = next(w for w in workers if leads(w))
    follower = next(w for w in workers if w is not leader)
    leader.kill()
    deadline = time.monotonic() + 90
    while not leads(follower):
        assert time.monotonic() < deadline, "the surviving worker never took the feed over"
        await asyncio.sleep(0.5)
    await asyncio.sleep(3)
    rate = await ticks_per_second(stack, names.ticks_topic, 6)
    assert 0.3 * RATE < rate < 1.5 * RATE, f"{rate:.1f} ticks/s after the leader died"
