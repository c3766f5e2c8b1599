"""Run the feeds a process's settings ask for (`CANDLEFLOW_SOURCE`) through one publisher.

The bar engine calls `run_source` from a leader-only task, so exactly one worker of a
group publishes ticks; `candleflow ingest` runs the same feeds by hand. Every feed but
the synthetic one publishes through one `TradeGate`, which the log's tail seeds before
the first connection: the newest trades of each market (a replay or snapshot of them is
dropped), where each market's catch-up goes on from, and which markets the log holds
no tick of (those get recent history first). `run_source` returns when `stop` is set,
and it may be cancelled at any await: either way the producer is flushed and closed
before it returns. A feed that fails for good (every market refused, a refused key) is
logged and the others go on; when none is left running, the first error is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence

from aiokafka.errors import KafkaError

from candleflow.core.feed_status import FeedStatus
from candleflow.core.settings import Settings
from candleflow.domain.feeds import FeedSpec
from candleflow.domain.venues import VENUES
from candleflow.kafka.config import KafkaConfig
from candleflow.sources.cryptocompare import CryptoCompareClient
from candleflow.sources.dedupe import RecentTrades
from candleflow.sources.exceptions import SourceError
from candleflow.sources.gate import GateSink, TradeGate
from candleflow.sources.history import lay_down_history
from candleflow.sources.log_tail import SEED_PER_SYMBOL, read_tail, resume_points
from candleflow.sources.publisher import TickPublisher, TickSink
from candleflow.sources.stream.backoff import Timing
from candleflow.sources.stream.source import StreamSource
from candleflow.sources.synthetic import SyntheticFeed, run_synthetic

log = logging.getLogger(__name__)


async def run_synthetic_feed(
    settings: Settings,
    feed: SyntheticFeed,
    sink: TickSink,
    *,
    stop: asyncio.Event,
    count: int | None = None,
    duration: float | None = None,
) -> int:
    """The synthetic feed as every entry point runs it: go on from the newest trades the
    log holds, lay down the demo history for symbols the log holds no tick of, then publish live."""
    trades = await lay_down_history(
        feed,
        sink,
        hours=settings.synthetic_history,
        kafka=KafkaConfig.from_settings(settings),
        topic=settings.ticks_topic,
        resume=await resume_points(settings, feed.symbols),
    )
    return await run_synthetic(feed, sink, stop=stop, count=count, duration=duration, trades=trades)


def markets(settings: Settings, spec: FeedSpec) -> tuple[str, ...]:
    """The symbols a feed streams: those its entry names, or the kind's defaults."""
    if spec.symbols:
        return spec.symbols
    if spec.kind in VENUES:
        venue = VENUES[spec.kind]
        return tuple(venue.symbol(pair) for pair in venue.default_pairs)
    return settings.cryptocompare_pairs


async def open_gate(settings: Settings, sink: TickSink, symbols: Sequence[str], status: FeedStatus) -> TradeGate:
    """A gate seeded from the log's tail: newest trades, newest time per symbol, and the
    symbols the read could not settle. An unreadable log settles nothing (no history)."""
    wanted = sorted(set(symbols))
    try:
        tail = await read_tail(KafkaConfig.from_settings(settings), settings.ticks_topic, wanted, SEED_PER_SYMBOL)
    except (KafkaError, OSError, TimeoutError) as exc:
        log.warning("could not read the tail of %s (%r): no history, and replays may repeat", settings.ticks_topic, exc)
        return TradeGate(sink, status=status, unsettled=wanted)
    dedupe = RecentTrades()
    newest: dict[str, int] = {}
    for tick in tail.ticks:
        dedupe.seen(tick)
        newest[tick.symbol] = max(newest.get(tick.symbol, 0), tick.ts)
    log.info(
        "feeds start from the log: %d recent trades of %d of %d markets", len(tail.ticks), len(newest), len(wanted)
    )
    return TradeGate(sink, dedupe=dedupe, status=status, newest=newest, unsettled=tail.unsettled)


def build_feed(
    settings: Settings, spec: FeedSpec, gate: TradeGate, timing: Timing | None = None
) -> Awaitable[object] | None:
    """The coroutine that runs one (non-synthetic) feed until cancelled or stopped."""
    symbols = markets(settings, spec)
    if spec.kind == "cryptocompare":
        client = CryptoCompareClient(
            GateSink(gate, "cryptocompare"),
            symbols,
            api_key=settings.cryptocompare_api_key,
            url=settings.cryptocompare_url,
            future_tolerance_s=settings.future_tolerance,
            status=gate.status,
            timing=timing,
            drop_known=False,  # the gate drops them, for every feed of the market
        )
        return client.run()
    if spec.kind == "coindesk":
        from candleflow.sources.exchanges.coindesk import coindesk_spec

        exchange = coindesk_spec(settings.coindesk_key, settings.coindesk_trade_stream)
        ws_url, rest_url = settings.coindesk_ws_url, settings.coindesk_rest_url
    elif spec.kind in VENUES:
        from candleflow.sources.exchanges.registry import SPECS

        exchange = SPECS[spec.kind]
        ws_url, rest_url = settings.venue_urls(spec.kind)
    else:
        return None
    source = StreamSource(
        exchange,
        symbols,
        ws_url=ws_url,
        rest_url=rest_url,
        gate=gate,
        history_hours=settings.market_history,
        timing=timing,
    )
    return source.run()


async def run_feeds(
    settings: Settings,
    sink: TickSink,
    stop: asyncio.Event,
    status: FeedStatus | None = None,
    *,
    timing: Timing | None = None,
) -> None:
    """Feed `sink` from every feed of `settings.source` until `stop` is set (`timing`:
    the streaming clients' delays, production's by default)."""
    status = status if status is not None else FeedStatus(down_after=settings.feed_down_after)
    specs = settings.feeds
    jobs: dict[str, Awaitable[object]] = {}
    streamed = [spec for spec in specs if spec.kind not in ("none", "synthetic")]
    if streamed:
        gate = await open_gate(settings, sink, [s for spec in streamed for s in markets(settings, spec)], status)
        for spec in streamed:
            job = build_feed(settings, spec, gate, timing)
            if job is not None:
                jobs[spec.kind] = job
    if any(spec.kind == "synthetic" for spec in specs):
        feed = SyntheticFeed(settings.synthetic_symbols, rate=settings.synthetic_rate, seed=settings.synthetic_seed)
        log.info("synthetic feed: %s at %g ticks/s (seed %d)", ", ".join(feed.symbols), feed.rate, feed.seed)
        jobs["synthetic"] = run_synthetic_feed(settings, feed, sink, stop=stop)
    await _run_all(jobs, stop)


async def _run_all(jobs: dict[str, Awaitable[object]], stop: asyncio.Event) -> None:
    tasks = {asyncio.ensure_future(job): name for name, job in jobs.items()}
    waiter = asyncio.ensure_future(stop.wait())
    errors: list[BaseException] = []
    try:
        pending = set(tasks)
        while pending and not stop.is_set():
            done, pending = await asyncio.wait({*pending, waiter}, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {waiter}:
                error = None if task.cancelled() else task.exception()
                if error is not None:
                    log.error("the %s feed stopped: %s", tasks[task], error)
                    errors.append(error)
            pending.discard(waiter)
    finally:
        for task in (*tasks, waiter):
            task.cancel()
        await asyncio.gather(*tasks, waiter, return_exceptions=True)
    if errors and not stop.is_set():
        raise errors[0]


async def run_source(settings: Settings, stop: asyncio.Event, status: FeedStatus | None = None) -> None:
    """Publish the configured feeds' ticks to Kafka until `stop` is set (or cancelled)."""
    if settings.source == "none":
        log.info("no tick source configured (CANDLEFLOW_SOURCE=none)")
        return
    label = "+".join(spec.kind for spec in settings.feeds)
    publisher = TickPublisher.from_settings(settings, source=label)
    await publisher.start()
    try:
        feed = asyncio.create_task(run_feeds(settings, publisher, stop, status), name=f"source-{settings.source}")
        waiter = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({feed, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (feed, waiter):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
            with contextlib.suppress(asyncio.CancelledError):
                await feed  # re-raises the feed's own error, e.g. Unauthorized
    finally:
        # Shielded so that a cancelled runner still hands its last ticks to the broker.
        await asyncio.shield(publisher.close())
        counts = publisher.counts
        log.info(
            "%s source stopped: %d ticks published, %d dead-lettered, %d failed",
            settings.source,
            counts.published,
            counts.dead,
            counts.failed,
        )


__all__ = ["SourceError", "markets", "run_feeds", "run_source", "run_synthetic_feed"]
