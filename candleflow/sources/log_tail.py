"""The newest ticks of some symbols in the ticks topic, read backwards from its end.

CryptoCompare replays the last trades of a channel (about 20) on every subscribe. Within
one process `RecentTrades` drops them; a feed that starts afresh — a worker that became
the group's leader, a restarted `candleflow ingest cryptocompare` — has an empty memory,
while the trades the previous process published are in the log. `seeded_dedupe` fills
the new feed's `RecentTrades` from the log's tail before it subscribes, so the replay
is recognised and nothing is counted twice. The synthetic feed, whose trade ids count
1, 2, ... per symbol, likewise resumes from the log (`resume_points`) instead of
numbering its trades afresh on the worker that takes it over.

Before a feed lays down history, `symbols_without_ticks` asks the same tail which of its
symbols the log holds no tick of at all: partitions come from the admin's description of
the topic and each one's extent from its beginning and end offsets, never from a
consumer's metadata cache (which may not have arrived yet), so a topic that holds records
is never taken for an empty one.

Ticks are keyed by symbol, so each symbol lives in one partition: only those partitions
are read, in growing windows from their end until every symbol has `per_symbol` ticks
(or the partition's start, or `max_records` per partition, is reached).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from candleflow.core.settings import Settings
from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import Tick, parse_tick
from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.exceptions import TopicError
from candleflow.kafka.topics import topic_partitions
from candleflow.sources.dedupe import RecentTrades

log = logging.getLogger(__name__)

#: Ticks per symbol to remember from the log: several times the streamer's replay.
SEED_PER_SYMBOL = 200
FIRST_WINDOW = 1000
READ_TIMEOUT_S = 30.0


async def seeded_dedupe(settings: Settings, symbols: Iterable[str]) -> RecentTrades:
    """A `RecentTrades` that already knows the newest trades of `symbols` in the log.

    An unreachable or missing topic gives an empty one, with a warning: the feed still
    starts (the broker's trouble shows in its publishing).
    """
    dedupe = RecentTrades()
    wanted = sorted(set(symbols))
    try:
        ticks = await recent_ticks(KafkaConfig.from_settings(settings), settings.ticks_topic, wanted, SEED_PER_SYMBOL)
    except (KafkaError, OSError, TimeoutError) as exc:
        log.warning("could not read the tail of %s (%r): the first replay may repeat trades", settings.ticks_topic, exc)
        return dedupe
    for tick in ticks:
        dedupe.seen(tick)
    log.info(
        "duplicate filter seeded with %d recent trades of %d symbols from %s",
        len(ticks),
        len(wanted),
        settings.ticks_topic,
    )
    return dedupe


async def resume_points(settings: Settings, symbols: Iterable[str]) -> dict[str, tuple[float, int]]:
    """(last price, last numeric trade id) of each of `symbols` in the log; symbols without
    a numbered trade there are left out. An unreachable topic gives none, with a warning."""
    try:
        kafka = KafkaConfig.from_settings(settings)
        ticks = await recent_ticks(kafka, settings.ticks_topic, sorted(set(symbols)), 1)
    except (KafkaError, OSError, TimeoutError) as exc:
        log.warning("could not read the tail of %s (%r): the feed numbers its trades from 1", settings.ticks_topic, exc)
        return {}
    points: dict[str, tuple[float, int]] = {}
    for tick in ticks:
        if tick.id is not None and tick.id.isdigit():
            last = points.get(tick.symbol)
            if last is None or int(tick.id) > last[1]:
                points[tick.symbol] = (tick.price, int(tick.id))
    return points


@dataclass(frozen=True, slots=True)
class Tail:
    """What a backwards read of the log found: `ticks` oldest first per partition, and
    the wanted symbols it could not settle (too few ticks found before `max_records`
    records of their partition were read, the partition's start not reached)."""

    ticks: list[Tick]
    unsettled: frozenset[str]


async def recent_ticks(
    kafka: KafkaConfig, topic: str, symbols: Iterable[str], per_symbol: int, max_records: int = 500_000
) -> list[Tick]:
    """At least the newest `per_symbol` valid ticks of each symbol (fewer when the log
    holds fewer), oldest first per partition."""
    return (await read_tail(kafka, topic, symbols, per_symbol, max_records)).ticks


async def symbols_without_ticks(
    kafka: KafkaConfig, topic: str, symbols: Iterable[str], max_records: int = 500_000
) -> set[str]:
    """Those of `symbols` of which `topic` holds no valid tick (a missing topic holds none;
    records deleted by retention are not held). A symbol whose partition is too long to
    read back to its start within `max_records` counts as held: history laid twice is
    worse than none. Kafka errors propagate."""
    wanted = set(symbols)
    tail = await read_tail(kafka, topic, wanted, 1, max_records)
    return wanted - {tick.symbol for tick in tail.ticks} - tail.unsettled


async def read_tail(
    kafka: KafkaConfig, topic: str, symbols: Iterable[str], per_symbol: int, max_records: int = 500_000
) -> Tail:
    """`recent_ticks`, telling also which symbols the read could not settle."""
    wanted = set(symbols)
    try:
        all_partitions = await topic_partitions(kafka, topic)
    except TopicError:
        log.info("topic %s does not exist yet: it holds no ticks", topic)
        return Tail([], frozenset())
    consumer = clients.assigned_reader(kafka, "log-tail")
    await consumer.start()
    try:
        partitioner = DefaultPartitioner()
        by_partition: dict[int, set[str]] = {}
        for symbol in wanted:
            partition = partitioner(symbol.encode(), all_partitions, all_partitions)
            by_partition.setdefault(partition, set()).add(symbol)
        ticks: list[Tick] = []
        unsettled: set[str] = set()
        for partition, members in sorted(by_partition.items()):
            found, short = await _partition_tail(
                consumer, TopicPartition(topic, partition), members, per_symbol, max_records
            )
            ticks.extend(found)
            unsettled.update(short)
        return Tail(ticks, frozenset(unsettled))
    finally:
        await consumer.stop()


async def _partition_tail(
    consumer: AIOKafkaConsumer, tp: TopicPartition, members: set[str], per_symbol: int, max_records: int
) -> tuple[list[Tick], set[str]]:
    """The partition's newest ticks of `members`, and the members left short of
    `per_symbol` before the partition's start was reached."""
    begin = (await consumer.beginning_offsets([tp]))[tp]
    end = (await consumer.end_offsets([tp]))[tp]
    if end <= begin:
        # Never assign a partition without seeking it: aiokafka's `stop()` then waits
        # for a position that nobody asked for.
        return [], set()
    consumer.assign([tp])
    consumer.seek(tp, max(begin, end - 1))
    windows: list[list[Tick]] = []
    counts: Counter[str] = Counter()
    high, step = end, max(FIRST_WINDOW, per_symbol * len(members))
    deadline = time.monotonic() + READ_TIMEOUT_S
    while high > begin and end - high < max_records and any(counts[s] < per_symbol for s in members):
        low = max(begin, high - step)
        window = await _read_range(consumer, tp, low, high, members, deadline)
        counts.update(tick.symbol for tick in window)
        windows.append(window)
        high, step = low, step * 2
    short = {s for s in members if counts[s] < per_symbol} if high > begin else set()
    return [tick for window in reversed(windows) for tick in window], short


async def _read_range(
    consumer: AIOKafkaConsumer, tp: TopicPartition, low: int, high: int, members: set[str], deadline: float
) -> list[Tick]:
    """The valid ticks of `members` at offsets [low, high) of one partition."""
    consumer.seek(tp, low)
    found: list[Tick] = []
    while await consumer.position(tp) < high:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{tp.topic}[{tp.partition}]: offsets {low}..{high} not read in {READ_TIMEOUT_S:.0f} s")
        batch = await consumer.getmany(tp, timeout_ms=500, max_records=10_000)
        for message in batch.get(tp, []):
            if message.offset >= high or message.key is None or message.key.decode(errors="replace") not in members:
                continue
            try:
                found.append(parse_tick(message.value))
            except InvalidTick:
                continue
    return found
