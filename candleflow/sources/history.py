"""The demo's first chart: hours of past synthetic trades laid down through Kafka
before the live ones, so a fresh `make run` opens on a chart with history, moving
averages and crossover marks instead of two bars at the right edge.

Only an empty ticks topic gets history (the log is the truth: a topic with records
already has its chart). The past trades continue into the live feed's random walk,
stamped from `hours` ago up to now (densest over the last hours), and are published as fast
as the producer takes them: they reach the engine like any other ticks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

from aiokafka import TopicPartition

from candleflow.domain.ticks import Tick
from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig
from candleflow.sources.publisher import TickSink
from candleflow.sources.synthetic import SyntheticFeed, SyntheticTrade

log = logging.getLogger(__name__)

#: Past trades per minute over all symbols: dense over the last hours (what the first
#: chart shows; the least traded default symbol still trades in four minutes out of
#: five), sparse before. Two days come to about 17,000 ticks, which the engine absorbs
#: in seconds.
RECENT_HOURS = 8.0
RECENT_PER_MINUTE = 20.0
EARLIER_PER_MINUTE = 3.0


async def topic_is_empty(kafka: KafkaConfig, topic: str) -> bool:
    """True when no partition of `topic` holds a record (retention included)."""
    consumer = clients.assigned_reader(kafka, "history")
    await consumer.start()
    try:
        await consumer.topics()  # loads the metadata partitions_for_topic reads
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not tps:
            return True
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        return all(ends[tp] <= starts[tp] for tp in tps)
    finally:
        await consumer.stop()


def past_ticks(trades: Iterator[SyntheticTrade], feed: SyntheticFeed, *, start_ms: int, end_ms: int) -> Iterator[Tick]:
    """The feed's next trades stamped from `start_ms` on, until `end_ms`: the feed's own
    gaps, stretched to `EARLIER_PER_MINUTE`, then to `RECENT_PER_MINUTE` over the last
    `RECENT_HOURS`."""
    recent_from = end_ms - RECENT_HOURS * 3_600_000
    at = float(start_ms)
    for trade in trades:
        per_minute = RECENT_PER_MINUTE if at >= recent_from else EARLIER_PER_MINUTE
        at += trade.gap * feed.rate * 60_000.0 / per_minute
        if at >= end_ms:
            return
        yield trade.tick(int(at))


async def lay_down_history(
    trades: Iterator[SyntheticTrade],
    feed: SyntheticFeed,
    sink: TickSink,
    *,
    hours: float,
    kafka: KafkaConfig,
    topic: str,
) -> int:
    """Publish `hours` of past trades when `topic` is empty; returns how many."""
    if hours <= 0:
        return 0
    if not await topic_is_empty(kafka, topic):
        log.info("synthetic history: %s already holds ticks, none laid down", topic)
        return 0
    end_ms = int(time.time() * 1000)
    started = time.monotonic()
    sent = 0
    for tick in past_ticks(trades, feed, start_ms=end_ms - int(hours * 3_600_000), end_ms=end_ms):
        await sink.publish(tick)
        sent += 1
        if sent & 0x3FF == 0:
            await asyncio.sleep(0)  # let the worker's other tasks run
    log.info(
        "synthetic history: %d ticks over the past %g hours published in %.1f s",
        sent,
        hours,
        time.monotonic() - started,
    )
    return sent
