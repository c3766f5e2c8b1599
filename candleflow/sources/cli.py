"""`candleflow ingest ...`: publish ticks from a replay file, the synthetic feed, an exchange
(binance, coinbase, kraken, okx, bitstamp) or an aggregator (cryptocompare, coindesk).

Kafka bootstrap, topic names, partitions, the API key and URLs come from the
`CANDLEFLOW_*` settings; options only choose what to send. Each runs through
`candleflow.core.command`: the first Ctrl-C stops reading and flushes what was read.
"""

from __future__ import annotations

from pathlib import Path

import click

from candleflow import startup
from candleflow.core import command
from candleflow.core.cli_options import SYMBOLS
from candleflow.core.settings import CC_KEY, variable
from candleflow.domain.exceptions import ConfigError
from candleflow.domain.feeds import canonical
from candleflow.domain.venues import VENUES, Venue
from candleflow.sources.publisher import PublishCounts, TickPublisher
from candleflow.sources.replay import FORMATS, ReplayReport, parse_speed, replay_file


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
    size = file.stat().st_size

    async def main(run: command.Invocation) -> int:
        settings = run.settings
        await startup.check(settings, database=False)
        publisher = TickPublisher.from_settings(settings, source="replay", compression=compression)
        await publisher.start()
        try:
            report = await replay_file(
                file,
                publisher,
                speed=speed,
                fmt=fmt,
                progress=run.progress(size, unit="B"),
                stop=run.stop,
                future_tolerance_s=settings.future_tolerance,
            )
            counts = await publisher.flush()
        finally:
            await publisher.close()
        return _replayed(file, report, counts, settings.ticks_topic, settings.dead_topic)

    command.run(main, graceful=True, name="candleflow ingest replay")


def _replayed(file: Path, report: ReplayReport, counts: PublishCounts, ticks_topic: str, dead_topic: str) -> int:
    """Say what a replay published; 1 when not every line was published or dead-lettered."""
    complete = (
        not report.stopped
        and counts.failed == 0
        and counts.published == report.valid
        and counts.dead == report.invalid
        and counts.published + counts.dead == report.lines
    )
    rate = report.lines / report.seconds if report.seconds > 0 else 0.0
    click.echo(
        f"{file}: {report.lines:,} lines, {counts.published:,} published to {ticks_topic}, "
        f"{counts.dead:,} dead-lettered to {dead_topic}"
        f"{f', {counts.failed:,} FAILED' if counts.failed else ''} in {report.seconds:.1f} s ({rate:,.0f} lines/s)"
    )
    if not complete:
        why = "interrupted" if report.stopped else counts.first_error or "some records were not acknowledged"
        click.echo(f"replay incomplete: {why}", err=True)
        return command.FAILED
    return command.OK


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

    async def main(run: command.Invocation) -> int:
        settings = run.settings
        await startup.check(settings, database=False)
        feed = SyntheticFeed(
            symbols or settings.synthetic_symbols,
            rate=rate if rate is not None else settings.synthetic_rate,
            seed=seed if seed is not None else settings.synthetic_seed,
        )
        async with TickPublisher.from_settings(settings, source="synthetic", compression=compression) as publisher:
            await run_synthetic_feed(settings, feed, publisher, stop=run.stop, count=count, duration=duration)
            counts = await publisher.flush()
        click.echo(f"synthetic: {counts.published:,} ticks published to {settings.ticks_topic}")
        if counts.failed:
            click.echo(f"{counts.failed:,} ticks failed: {counts.first_error}", err=True)
            return command.FAILED
        return command.OK

    command.run(main, graceful=True, name="candleflow ingest synthetic")


def _run_feed(kind: str, pairs: str | None, needs: tuple[str, str] | None = None) -> None:
    """Run one feed of `CANDLEFLOW_SOURCE`'s grammar (`kind:PAIR+PAIR`) until Ctrl-C;
    `needs`: the key (a `Settings` attribute) the feed cannot run without, and what to set."""
    import dataclasses

    from candleflow.sources.runner import run_feeds

    async def main(run: command.Invocation) -> None:
        settings = run.settings
        if needs is not None and not getattr(settings, needs[0]):
            raise ConfigError(needs[1])
        await startup.check(settings, database=False)
        listed = "+".join(p.strip() for p in (pairs or "").replace("+", ",").split(",") if p.strip())
        settings = dataclasses.replace(settings, source=canonical(f"{kind}:{listed}" if listed else kind))
        async with TickPublisher.from_settings(settings, source=kind) as publisher:
            await run_feeds(settings, publisher, run.stop)
            counts = await publisher.flush()
        click.echo(f"{kind}: {counts.published:,} trades published, {counts.dead:,} dead-lettered")

    command.run(main, graceful=True, name=f"candleflow ingest {kind}")


@ingest.command()
@click.option(
    "--pairs",
    default=None,
    help="Comma-separated symbols, e.g. Coinbase:BTC/USD,Kraken:ETH/EUR (default: CANDLEFLOW_CRYPTOCOMPARE_PAIRS).",
)
def cryptocompare(pairs: str | None) -> None:
    """Stream live trades from the legacy CryptoCompare streamer (needs CANDLEFLOW_CRYPTOCOMPARE_API_KEY)."""
    _run_feed("cryptocompare", pairs, ("cryptocompare_api_key", f"set {CC_KEY} to your CryptoCompare API key"))


@ingest.command()
@click.option(
    "--pairs",
    default=None,
    help="Comma-separated symbols, e.g. Coinbase:BTC/USD,Kraken:ETH/EUR (default: CANDLEFLOW_CRYPTOCOMPARE_PAIRS).",
)
def coindesk(pairs: str | None) -> None:
    """Stream live trades from the CoinDesk Data streamer (needs CANDLEFLOW_COINDESK_API_KEY), after its REST
    trades since the newest tick held (or CANDLEFLOW_MARKET_HISTORY hours of them on an empty topic)."""
    _run_feed("coindesk", pairs, ("coindesk_key", f"set {variable('coindesk_api_key')} to your CoinDesk Data API key"))


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
