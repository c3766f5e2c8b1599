"""The worker's own feed runs on the group leader only, and moves when the leader dies:
two workers never double the ticks, and killing the leader does not stop them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from tests.harness import engine as harness
from tests.harness.kafka import consume_all, create_topics

pytestmark = pytest.mark.integration

RATE = 40
#: Ticks a window must hold: a few seconds of the feed.
WINDOW = 120


async def offsets(stack: Any, topic: str) -> dict[int, int]:
    return await harness.highwaters(stack.kafka_bootstrap, topic)


async def ticks_between(stack: Any, topic: str, start: dict[int, int], count: int) -> list[tuple[str, str]]:
    """Wait until `count` ticks follow the `start` offsets; the (symbol, id) of every tick
    after them then."""
    deadline = time.monotonic() + 60
    while sum((await offsets(stack, topic)).values()) - sum(start.values()) < count:
        assert time.monotonic() < deadline, f"fewer than {count} ticks in 60 s: the feed runs nowhere"
        await asyncio.sleep(0.5)
    records = await consume_all(stack.kafka_bootstrap, topic, timeout=60)
    ticks = [orjson.loads(value) for _, value, partition, offset in records if offset >= start.get(partition, 0)]
    return [(tick["symbol"], tick["id"]) for tick in ticks]


def leads(worker: Any) -> bool:
    """Whether the worker's log says it runs the feed now."""
    text = str(worker.log_path.read_text(errors="replace"))
    return text.rfind("leads the group: starting") > text.rfind("no longer leads the group")


async def test_one_feed_per_group_and_it_survives_the_leader(
    stack: Any, names: Any, database_url: str, worker_factory: Any
) -> None:
    """A feed numbers its trades 1, 2, ... per symbol from the same seed: two feeds at
    once would publish every (symbol, id) twice; a feed that stopped publishes none."""
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
    first = await ticks_between(stack, names.ticks_topic, {}, WINDOW)
    assert len(first) == len(set(first)), "the feed ran twice: some trades were published twice"

    leader = next(w for w in workers if leads(w))
    follower = next(w for w in workers if w is not leader)
    leader.kill()
    deadline = time.monotonic() + 90
    while not leads(follower):
        assert time.monotonic() < deadline, "the surviving worker never took the feed over"
        await asyncio.sleep(0.5)
    handover = await offsets(stack, names.ticks_topic)
    second = await ticks_between(stack, names.ticks_topic, handover, WINDOW)
    assert len(second) == len(set(second)), "after the handover the feed ran twice"
