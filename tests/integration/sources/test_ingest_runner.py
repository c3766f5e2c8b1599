"""`run_source` (the worker's leader-only task) publishes the synthetic feed and stops cleanly."""

from __future__ import annotations

import asyncio
import dataclasses

import orjson
import pytest

from candleflow.core.settings import Settings
from candleflow.sources.runner import run_source
from candleflow.stack import StackInfo
from tests.harness import Names, consume_all, create_topics
from tests.harness.engine import highwaters
from tests.harness.waiting import eventually

pytestmark = pytest.mark.integration

SYMBOLS = ("Coinbase:BTC/USD", "Binance:DOGE/USDT")


def settings_for(stack: StackInfo, names: Names) -> Settings:
    return dataclasses.replace(
        Settings(),
        kafka_bootstrap=stack.kafka_bootstrap,
        ticks_topic=names.ticks_topic,
        dead_topic=names.dead_topic,
        ticks_partitions=4,
        source="synthetic",
        synthetic_symbols=SYMBOLS,
        synthetic_rate=400.0,
        synthetic_seed=11,
    )


async def published(stack: StackInfo, topic: str) -> int:
    return sum((await highwaters(stack.kafka_bootstrap, topic)).values())


async def wait_published(stack: StackInfo, topic: str, count: int) -> int:
    """Wait until the topic holds at least `count` records; how many it holds then."""

    async def enough() -> int:
        found = await published(stack, topic)
        return found if found >= count else 0

    return await eventually(enough, 60, interval=0.2, what=f"{count} records in {topic}")


async def test_stop_event_ends_the_source_and_flushes(stack: StackInfo, names: Names) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run_source(settings_for(stack, names), stop))
    await wait_published(stack, names.ticks_topic, 100)
    stop.set()
    async with asyncio.timeout(10):
        await task
    at_stop = await published(stack, names.ticks_topic)
    records = await consume_all(stack.kafka_bootstrap, names.ticks_topic, timeout=30)
    assert len(records) == at_stop >= 100, "every tick sent before the stop is in the topic"
    assert await published(stack, names.ticks_topic) == at_stop, "nothing is published after the stop"
    for key, value, _, _ in records:
        tick = orjson.loads(value)
        assert key == tick["symbol"].encode()
        assert tick["symbol"] in SYMBOLS


async def test_cancelling_the_task_still_flushes_what_was_sent(stack: StackInfo, names: Names) -> None:
    task = asyncio.create_task(run_source(settings_for(stack, names), asyncio.Event()))
    await wait_published(stack, names.ticks_topic, 50)
    task.cancel()
    async with asyncio.timeout(10):
        with pytest.raises(asyncio.CancelledError):
            await task
    records = await consume_all(stack.kafka_bootstrap, names.ticks_topic, timeout=30)
    assert len(records) == await published(stack, names.ticks_topic) >= 50
    ids = [(orjson.loads(v)["symbol"], orjson.loads(v)["id"]) for _, v, _, _ in records]
    assert len(ids) == len(set(ids))


async def test_source_none_publishes_nothing(stack: StackInfo, names: Names) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 4, names.dead_topic: 1})
    settings = dataclasses.replace(settings_for(stack, names), source="none")
    async with asyncio.timeout(5):
        await run_source(settings, asyncio.Event())
    assert await published(stack, names.ticks_topic) == 0
    assert await published(stack, names.dead_topic) == 0
