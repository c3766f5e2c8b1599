"""Run the source a worker's settings ask for (`CANDLEFLOW_SOURCE`) through the publisher.

The bar engine calls `run_source` from a leader-only task, so exactly one worker of a
group publishes ticks. It returns when `stop` is set, and it may be cancelled at any
await: either way the producer is flushed and closed before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from candleflow.core.settings import Settings
from candleflow.sources.cryptocompare import CryptoCompareClient
from candleflow.sources.history import lay_down_history
from candleflow.sources.log_tail import resume_points, seeded_dedupe
from candleflow.sources.publisher import TickPublisher, TickSink
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
        bootstrap=settings.kafka_bootstrap,
        topic=settings.ticks_topic,
        resume=await resume_points(settings, feed.symbols),
    )
    return await run_synthetic(feed, sink, stop=stop, count=count, duration=duration, trades=trades)


async def run_feed(settings: Settings, sink: TickSink, stop: asyncio.Event) -> None:
    """Feed `sink` from `settings.source` until `stop` is set."""
    if settings.source == "synthetic":
        feed = SyntheticFeed(settings.synthetic_symbols, rate=settings.synthetic_rate, seed=settings.synthetic_seed)
        log.info(
            "synthetic feed: %s at %g ticks/s (seed %d)",
            ", ".join(feed.symbols),
            feed.rate,
            feed.seed,
        )
        await run_synthetic_feed(settings, feed, sink, stop=stop)
    elif settings.source == "cryptocompare":
        client = CryptoCompareClient(
            sink,
            settings.cryptocompare_pairs,
            api_key=settings.cryptocompare_api_key,
            url=settings.cryptocompare_url,
            future_tolerance_s=settings.future_tolerance,
            dedupe=await seeded_dedupe(settings, settings.cryptocompare_pairs),
        )
        await client.run(stop)


async def run_source(settings: Settings, stop: asyncio.Event) -> None:
    """Publish the configured source's ticks to Kafka until `stop` is set (or cancelled)."""
    if settings.source == "none":
        log.info("no tick source configured (CANDLEFLOW_SOURCE=none)")
        return
    publisher = TickPublisher.from_settings(settings, source=settings.source)
    await publisher.start()
    try:
        feed = asyncio.create_task(run_feed(settings, publisher, stop), name=f"source-{settings.source}")
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
