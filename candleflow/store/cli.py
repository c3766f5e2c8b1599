"""`candleflow db ...`: database maintenance commands."""

from __future__ import annotations

import asyncio

import click

from candleflow.core.cli_options import INSTANT, SYMBOLS
from candleflow.core.settings import Settings


@click.group()
def db() -> None:
    """Database schema and checks (CANDLEFLOW_DATABASE_URL)."""


@db.command()
def migrate() -> None:
    """Apply sql/*.sql in order; already applied files are skipped."""
    from candleflow.store.connection import capability, connect
    from candleflow.store.migrate import migrate as run_migrations

    url = Settings.from_env().database_url

    async def run() -> tuple[list[str], str]:
        applied = await run_migrations(url)
        conn = await connect(url)
        try:
            return applied, await capability(conn)
        finally:
            await conn.close()

    applied, found = asyncio.run(run())
    for name in applied:
        click.echo(f"applied {name}")
    if not applied:
        click.echo("schema up to date")
    click.echo(
        "capability: timescaledb" if found == "timescaledb" else "capability: postgresql (timescaledb not available)"
    )


@db.command()
@click.option("--symbols", type=SYMBOLS, help="Comma-separated symbols (Exchange:BASE/QUOTE); default all.")
@click.option("--since", type=INSTANT, help="Compare bars whose bucket is >= this (ISO 8601 or epoch ms).")
@click.option("--until", type=INSTANT, help="Compare bars whose bucket is < this (ISO 8601 or epoch ms).")
def verify(symbols: tuple[str, ...] | None, since: int | None, until: int | None) -> None:
    """Compare stored bars with a fresh aggregation of the ticks topic.

    Lists every difference; exit status 0 when there is none, 1 when there are
    differences, 2 for bad arguments or configuration.
    """
    import sys

    from candleflow.maintenance.verify import Window, run

    try:
        window = Window(None if symbols is None else frozenset(symbols), since, until)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    settings = Settings.from_env()
    sys.exit(run(settings, window, out=sys.stdout, err=sys.stderr))
