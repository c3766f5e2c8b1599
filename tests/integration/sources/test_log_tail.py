"""The tail of the ticks topic per symbol, read backwards from the end: what a new feed
seeds its duplicate filter with."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from candleflow.core.settings import Settings
from candleflow.domain.ticks import Tick
from candleflow.kafka.config import KafkaConfig
from candleflow.sources.log_tail import recent_ticks, seeded_dedupe
from candleflow.sources.publisher import TickPublisher
from tests.harness.kafka import create_topics

pytestmark = pytest.mark.integration

SYMBOLS = [f"Coinbase:T{i}/USD" for i in range(6)]


async def test_the_newest_ticks_of_each_wanted_symbol_come_back(stack: Any, names: Any, database_url: str) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 3, names.dead_topic: 3})
    settings = Settings.from_env(names.env(stack, database_url, CANDLEFLOW_TICKS_PARTITIONS="3"))
    ticks = [Tick(SYMBOLS[i % 6], 1_790_000_000_000 + i, 1.0 + i, 0.5, "buy", str(i)) for i in range(12_000)]
    async with TickPublisher.from_settings(settings, source="test") as publisher:
        for tick in ticks:
            await publisher.publish(tick)
        await publisher.flush()
    wanted = SYMBOLS[:2]
    tail = await recent_ticks(KafkaConfig(stack.kafka_bootstrap), names.ticks_topic, wanted, per_symbol=300)
    for symbol in wanted:
        ids = [int(t.id or -1) for t in tail if t.symbol == symbol]
        sent = [int(t.id or -1) for t in ticks if t.symbol == symbol]
        assert len(ids) >= 300
        assert ids == sent[-len(ids) :], "not the newest ticks, oldest first"
    assert {t.symbol for t in tail} == set(wanted)
    dedupe = await seeded_dedupe(settings, wanted)
    assert dedupe.seen(ticks[-6]) and dedupe.seen(ticks[-5])  # the newest of T0 and T1
    assert not dedupe.seen(ticks[-3])  # a symbol the feed does not want


async def test_an_empty_topic_gives_nothing_at_once(stack: Any, names: Any) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2})
    async with asyncio.timeout(20):
        assert await recent_ticks(KafkaConfig(stack.kafka_bootstrap), names.ticks_topic, SYMBOLS, per_symbol=50) == []
