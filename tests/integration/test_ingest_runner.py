"""`run_source` (the worker's leader-only task) publishes the synthetic feed and stops cleanly."""

from __future__ import annotations

import asyncio
import dataclasses

import orjson
import pytest

from candleflow.settings import Settings
from candleflow.sources.runner import run_source
from candleflow.stack import StackInfo
from tests.harness import Names, consume_all

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


async def test_stop_event_ends_the_source_and_flushes(stack: StackInfo, names: Names) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run_source(settings_for(stack, names), stop))
    await asyncio.sleep(1.5)
    stop.set()
    async with asyncio.timeout(10):
        await task
    records = await consume_all(stack.kafka_bootstrap, names.ticks_topic, timeout=30)
    assert 100 < len(records) < 1500
    for key, value, _, _ in records:
        tick = orjson.loads(value)
        assert key == tick["symbol"].encode()
        assert tick["symbol"] in SYMBOLS


async def test_cancelling_the_task_still_flushes_what_was_sent(stack: StackInfo, names: Names) -> None:
    task = asyncio.create_task(run_source(settings_for(stack, names), asyncio.Event()))
    await asyncio.sleep(1.0)
    task.cancel()
    async with asyncio.timeout(10):
        with pytest.raises(asyncio.CancelledError):
            await task
    records = await consume_all(stack.kafka_bootstrap, names.ticks_topic, timeout=30)
    assert len(records) > 50
    ids = [(orjson.loads(v)["symbol"], orjson.loads(v)["id"]) for _, v, _, _ in records]
    assert len(ids) == len(set(ids))


async def test_source_none_publishes_nothing(stack: StackInfo, names: Names) -> None:
    settings = dataclasses.replace(settings_for(stack, names), source="none")
    async with asyncio.timeout(5):
        await run_source(settings, asyncio.Event())
