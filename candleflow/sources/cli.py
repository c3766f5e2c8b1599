"""`candleflow ingest ...`: publish ticks from a replay file, the synthetic feed, an exchange
(binance, coinbase, kraken, okx, bitstamp) or an aggregator (cryptocompare, coindesk).

Kafka bootstrap, topic names, partitions, the API key and URLs come from
`Settings.from_env()` (the `CANDLEFLOW_*` variables); options only choose what to send.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from candleflow.core.cli_options import SYMBOLS
from candleflow.core.progress import Progress
from candleflow.core.settings import CC_KEY, Settings, variable
from candleflow.domain.feeds import canonical
from candleflow.domain.venues import VENUES, Venue
from candleflow.sources.exceptions import PublishError, SourceError
from candleflow.sources.publisher import PublishCounts, TickPublisher
from candleflow.sources.replay import FORMATS, ReplayReport, parse_speed, replay_file

T = TypeVar("T")


def _settings() -> Settings:
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    return settings


def _run(main: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Run `main(stop)` with SIGINT/SIGTERM setting `stop` (a second signal interrupts)."""

    async def runner() -> T:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _on_signal, stop, loop, sig)
        try:
            return await main(stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(runner())


def _on_signal(stop: asyncio.Event, loop: asyncio.AbstractEventLoop, sig: int) -> None:
    if stop.is_set():
        loop.remove_signal_handler(sig)
        signal.raise_signal(sig)
    stop.set()


def _speed(_ctx: click.Context, _param: click.Parameter, value: str) -> float | None:
    try:
        return parse_speed(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group()
def ingest() -> None:
    """Publish ticks to the ticks topic (malformed input goes to the dead-letter topic)."""


COMPRESSION = click.option(
    "--compression",
    type=click.Choice(["gzip", "snappy", "lz4", "zstd"]),
    default=None,
    help="Compress record batches (snappy/lz4/zstd need their Python packages).",
)


@ingest.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--speed",
    default="max",
    show_default=True,
    callback=_speed,
    help="N: replay N times faster than the ticks' own timestamps (1 = original pacing); max: no pacing.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True)
@COMPRESSION
def replay(file: Path, speed: float | None, fmt: str, compression: str | None) -> None:
    """Publish every line of FILE (NDJSON or CSV, optionally .gz).

    Exit status 0 when every line was published or dead-lettered, 1 otherwise.
    """
    settings = _settings()
    size = file.stat().st_size

    async def main(stop: asyncio.Event) -> tuple[ReplayReport, PublishCounts]:
        publisher = TickPublisher.from_settings(settings, source="replay", compression=compression)
        await publisher.start()
        try:
            progress = Progress.for_terminal(size, unit="B")
            report = await replay_file(
                file,
                publisher,
                speed=speed,
                fmt=fmt,
                progress=progress,
                stop=stop,
                future_tolerance_s=settings.future_tolerance,
            )
            return report, await publisher.flush()
        finally:
            await publisher.close()

    report, counts = _run(main)
    complete = (
        not report.stopped
        and counts.failed == 0
        and counts.published == report.valid
        and counts.dead == report.invalid
        and counts.published + counts.dead == report.lines
    )
    rate = report.lines / report.seconds if report.seconds > 0 else 0.0
    click.echo(
        f"{file}: {report.lines:,} lines, {counts.published:,} published to {settings.ticks_topic}, "
        f"{counts.dead:,} dead-lettered to {settings.dead_topic}"
        f"{f', {counts.failed:,} FAILED' if counts.failed else ''} in {report.seconds:.1f} s ({rate:,.0f} lines/s)"
    )
    if not complete:
        why = "interrupted" if report.stopped else counts.first_error or "some records were not acknowledged"
        click.echo(f"replay incomplete: {why}", err=True)
        sys.exit(1)


@ingest.command()
@click.option(
    "--symbols",
    type=SYMBOLS,
    default=None,
    help="Comma-separated symbols (default: CANDLEFLOW_SYNTHETIC_SYMBOLS).",
)
@click.option(
    "--rate", type=click.FloatRange(min=0, min_open=True), default=None, help="Ticks per second, all symbols."
)
@click.option("--seed", type=int, default=None, help="Seed of the random walk (default: CANDLEFLOW_SYNTHETIC_SEED).")
@click.option("--duration", type=click.FloatRange(min=0), default=None, help="Stop after this many seconds.")
@click.option("--count", type=click.IntRange(min=0), default=None, help="Stop after this many ticks.")
@COMPRESSION
def synthetic(
    symbols: tuple[str, ...] | None,
    rate: float | None,
    seed: int | None,
    duration: float | None,
    count: int | None,
    compression: str | None,
) -> None:
    """Publish a seeded random walk of trades, stamped with the current time (after
    CANDLEFLOW_SYNTHETIC_HISTORY hours of past ones when the ticks topic is empty; a topic that
    holds its trades already is continued: ids and prices go on from its newest ones)."""
    from candleflow.sources.runner import run_synthetic_feed
    from candleflow.sources.synthetic import SyntheticFeed

    settings = _settings()
    feed = SyntheticFeed(
        symbols or settings.synthetic_symbols,
        rate=rate if rate is not None else settings.synthetic_rate,
        seed=seed if seed is not None else settings.synthetic_seed,
    )

    async def main(stop: asyncio.Event) -> PublishCounts:
        async with TickPublisher.from_settings(settings, source="synthetic", compression=compression) as publisher:
            await run_synthetic_feed(settings, feed, publisher, stop=stop, count=count, duration=duration)
            return await publisher.flush()

    counts = _run(main)
    click.echo(f"synthetic: {counts.published:,} ticks published to {settings.ticks_topic}")
    if counts.failed:
        click.echo(f"{counts.failed:,} ticks failed: {counts.first_error}", err=True)
        sys.exit(1)


def _run_feed(kind: str, pairs: str | None) -> None:
    """Run one feed of `CANDLEFLOW_SOURCE`'s grammar (`kind:PAIR+PAIR`) until Ctrl-C."""
    import dataclasses

    from candleflow.domain.exceptions import ConfigError
    from candleflow.sources.runner import run_feeds

    settings = _settings()
    listed = "+".join(p.strip() for p in (pairs or "").replace("+", ",").split(",") if p.strip())
    try:
        settings = dataclasses.replace(settings, source=canonical(f"{kind}:{listed}" if listed else kind))
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None

    async def main(stop: asyncio.Event) -> PublishCounts:
        async with TickPublisher.from_settings(settings, source=kind) as publisher:
            await run_feeds(settings, publisher, stop)
            return await publisher.flush()

    try:
        counts = _run(main)
    except (SourceError, PublishError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{kind}: {counts.published:,} trades published, {counts.dead:,} dead-lettered")


@ingest.command()
@click.option(
    "--pairs",
    default=None,
    help="Comma-separated symbols, e.g. Coinbase:BTC/USD,Kraken:ETH/EUR (default: CANDLEFLOW_CRYPTOCOMPARE_PAIRS).",
)
def cryptocompare(pairs: str | None) -> None:
    """Stream live trades from the legacy CryptoCompare streamer (needs CANDLEFLOW_CRYPTOCOMPARE_API_KEY)."""
    if not Settings.from_env().cryptocompare_api_key:
        raise click.UsageError(f"set {CC_KEY} to your CryptoCompare API key")
    _run_feed("cryptocompare", pairs)


@ingest.command()
@click.option(
    "--pairs",
    default=None,
    help="Comma-separated symbols, e.g. Coinbase:BTC/USD,Kraken:ETH/EUR (default: CANDLEFLOW_CRYPTOCOMPARE_PAIRS).",
)
def coindesk(pairs: str | None) -> None:
    """Stream live trades from the CoinDesk Data streamer (needs CANDLEFLOW_COINDESK_API_KEY), after its REST
    trades since the newest tick held (or CANDLEFLOW_MARKET_HISTORY hours of them on an empty topic)."""
    if not Settings.from_env().coindesk_key:
        raise click.UsageError(f"set {variable('coindesk_api_key')} to your CoinDesk Data API key")
    _run_feed("coindesk", pairs)


def _venue_command(venue: Venue) -> click.Command:
    def command(pairs: str | None) -> None:
        _run_feed(venue.key, pairs)

    defaults = ",".join(venue.default_pairs)
    command.__doc__ = (
        f"Stream {venue.exchange}'s public trades (no key): first its REST trades since the newest tick held "
        f"(CANDLEFLOW_MARKET_HISTORY hours on an empty topic), then live."
    )
    option = click.option("--pairs", default=None, help=f"Comma-separated BASE/QUOTE pairs (default: {defaults}).")
    return click.command(name=venue.key)(option(command))


for _venue in VENUES.values():
    ingest.add_command(_venue_command(_venue))
