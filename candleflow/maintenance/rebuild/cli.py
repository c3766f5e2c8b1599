"""`candleflow replay`: rebuild bars, moving averages and marks from the ticks topic."""

from __future__ import annotations

import click

from candleflow import startup
from candleflow.core import command
from candleflow.core.cli_options import INSTANT, INSTANT_OR_EARLIEST, SYMBOLS


@click.command()
@click.option(
    "--from",
    "since",
    type=INSTANT_OR_EARLIEST,
    default="earliest",
    show_default=True,
    help="earliest, or a time (ISO 8601 or epoch ms): rebuild the buckets from the Monday on or before "
    "the 1st of its month.",
)
@click.option(
    "--to",
    "until",
    type=INSTANT,
    help="Restore the state at this append time (ISO 8601 or epoch ms); only into a database without a live ledger.",
)
@click.option("--symbols", type=SYMBOLS, help="Comma-separated symbols (Exchange:BASE/QUOTE); default all.")
@click.option(
    "--lateness",
    type=click.FloatRange(min=0),
    default=24.0,
    show_default=True,
    help="Hours a tick may reach the log after its event time and still be rebuilt by --from.",
)
def replay(since: int | None, until: int | None, symbols: tuple[str, ...] | None, lateness: float) -> None:
    """Rebuild bars, moving averages and marks from the ticks topic, while workers run.

    The rebuilt rows replace the live ones in one transaction (charts never see a
    half-rebuilt bar) together with the ticks the workers absorbed meanwhile, so nothing
    is counted twice. Safe to interrupt and run again.
    """
    from candleflow.maintenance.rebuild.run import Options
    from candleflow.maintenance.rebuild.run import replay as run_replay

    if since is not None and until is not None and since >= until:
        raise click.BadParameter("--from must lie before --to", param_hint="--from")
    options = Options(
        since=since,
        until=until,
        symbols=None if symbols is None else frozenset(symbols),
        lateness_ms=int(lateness * 3_600_000),
    )

    async def main(run: command.Invocation) -> None:
        await startup.check(run.settings)
        summary = await run_replay(run.settings, options, run.err)
        click.echo(summary.render(), nl=False, err=True)

    command.run(
        main,
        interrupted="replay interrupted: nothing changed unless the swap had committed; run it again",
        name="candleflow replay",
    )
