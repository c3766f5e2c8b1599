"""The demo's first chart: hours of past synthetic trades laid down through Kafka
before the live ones, so a fresh `make run` opens on a chart with history, moving
averages and crossover marks instead of two bars at the right edge.

History goes only to symbols the ticks topic holds no tick of, as the log itself says
(`candleflow.sources.log_tail.symbols_without_ticks`): a restarted feed finds its
earlier history and live ticks there and lays down nothing, so a chart never counts
two histories. The past trades continue into the live feed's random walk, stamped from
`hours` ago up to now (densest over the last hours), and are published as fast as the
producer takes them: they reach the engine like any other ticks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping

from aiokafka.errors import KafkaError

from candleflow.domain.ticks import Tick
from candleflow.kafka.config import KafkaConfig
from candleflow.sources.log_tail import symbols_without_ticks
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
    feed: SyntheticFeed,
    sink: TickSink,
    *,
    hours: float,
    kafka: KafkaConfig,
    topic: str,
    resume: Mapping[str, tuple[float, int]],
) -> Iterator[SyntheticTrade]:
    """Publish `hours` of past trades of those of the feed's symbols the topic holds no
    tick of; return the trades the live feed goes on with: the same walk, or, when the
    log held some of the symbols already, a walk resumed from the newest trade of each.

    When what the topic holds cannot be read, no history is laid down: a chart without
    history is better than one with two."""
    trades = feed.trades(resume)
    if hours <= 0:
        return trades
    try:
        empty = await symbols_without_ticks(kafka, topic, feed.symbols)
    except (KafkaError, OSError, TimeoutError) as exc:
        log.warning("synthetic history: cannot tell what %s holds (%r): none laid down", topic, exc)
        return trades
    if not empty:
        log.info("synthetic history: %s already holds ticks of every symbol, none laid down", topic)
        return trades
    end_ms = int(time.time() * 1000)
    started = time.monotonic()
    last: dict[str, tuple[float, int]] = {}
    sent = 0
    for tick in past_ticks(trades, feed, start_ms=end_ms - int(hours * 3_600_000), end_ms=end_ms):
        if tick.symbol not in empty:
            continue
        await sink.publish(tick)
        last[tick.symbol] = (tick.price, int(tick.id or 0))
        sent += 1
        if sent & 0x3FF == 0:
            await asyncio.sleep(0)  # let the worker's other tasks run
    log.info(
        "synthetic history: %d ticks of %s over the past %g hours published in %.1f s",
        sent,
        ", ".join(sorted(empty)),
        hours,
        time.monotonic() - started,
    )
    if empty == set(feed.symbols):
        return trades
    return feed.trades({**resume, **last})
