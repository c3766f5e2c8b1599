"""`candleflow backfill ...`: historical bars from REST sources for periods the tick log
does not cover (see `candleflow.maintenance.backfill.run` for the rules)."""

from __future__ import annotations

import time

import click

from candleflow import startup
from candleflow.core import command
from candleflow.core.cli_options import INSTANT, SYMBOLS
from candleflow.maintenance.backfill.run import RESOLUTION_CHOICES, Plan, phases_for
from candleflow.maintenance.backfill.run import backfill as run_backfill
from candleflow.sources.cryptocompare_rest import HistoryClient


@click.group()
def backfill() -> None:
    """Historical bars from REST sources, for periods the tick log does not cover."""


@backfill.command()
@click.option("--symbols", required=True, type=SYMBOLS, help="Comma-separated Exchange:BASE/QUOTE symbols.")
@click.option("--since", required=True, type=INSTANT, help="Oldest time wanted (ISO 8601 or epoch ms).")
@click.option("--until", type=INSTANT, help="Newest time wanted, exclusive (default: now).")
@click.option(
    "--resolution",
    type=click.Choice(RESOLUTION_CHOICES),
    default="all",
    show_default=True,
    help="minute: 1-60 minute bars; hour: 60/240 where no minutes exist; day: 1D/1W/1M.",
)
def cryptocompare(symbols: tuple[str, ...], since: int, until: int | None, resolution: str) -> None:
    """Page CryptoCompare's histominute/histohour/histoday into REST bars.

    Never overwrites bars built from ticks; resumable (run it again after an
    interruption). Uses CANDLEFLOW_CRYPTOCOMPARE_REST_URL, CANDLEFLOW_CRYPTOCOMPARE_API_KEY
    and CANDLEFLOW_DATABASE_URL.
    """
    try:
        plan = Plan(symbols, since, until if until is not None else int(time.time() * 1000), phases_for(resolution))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    async def main(run: command.Invocation) -> None:
        await startup.check(run.settings, kafka=False)
        progress = run.progress(None, unit="page")
        settings = run.settings
        async with HistoryClient(settings.cryptocompare_rest_url, settings.cryptocompare_api_key) as client:
            reports = await run_backfill(settings, plan, client, progress.step if progress else lambda _: None)
        if progress is not None:
            progress.finish()
        for phase_report in reports:
            click.echo(phase_report.line())

    command.run(
        main,
        interrupted="interrupted: run the same command again to continue where it stopped",
        name="candleflow backfill",
    )
