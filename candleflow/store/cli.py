"""`candleflow db ...`: database maintenance commands."""

from __future__ import annotations

import asyncio

import click

from candleflow.settings import Settings


@click.group()
def db() -> None:
    """Database schema and checks (CANDLEFLOW_DATABASE_URL)."""


@db.command()
def migrate() -> None:
    """Apply sql/*.sql in order; already applied files are skipped."""
    from candleflow.store.migrate import migrate as run_migrations
    from candleflow.store.pool import connect, detect_capability

    url = Settings.from_env().database_url

    async def run() -> tuple[list[str], str]:
        applied = await run_migrations(url)
        conn = await connect(url)
        try:
            return applied, await detect_capability(conn)
        finally:
            await conn.close()

    applied, capability = asyncio.run(run())
    for name in applied:
        click.echo(f"applied {name}")
    if not applied:
        click.echo("schema up to date")
    click.echo(
        "capability: timescaledb"
        if capability == "timescaledb"
        else "capability: postgresql (timescaledb not available)"
    )


def _instant(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    from candleflow.verify import parse_instant

    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _symbol_set(_ctx: click.Context, _param: click.Parameter, value: str | None) -> frozenset[str] | None:
    from candleflow.verify import symbols_option

    try:
        return symbols_option(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@db.command()
@click.option("--symbols", callback=_symbol_set, help="Comma-separated symbols (Exchange:BASE/QUOTE); default all.")
@click.option("--since", callback=_instant, help="Compare bars whose bucket is >= this (ISO 8601 or epoch ms).")
@click.option("--until", callback=_instant, help="Compare bars whose bucket is < this (ISO 8601 or epoch ms).")
def verify(symbols: frozenset[str] | None, since: int | None, until: int | None) -> None:
    """Compare stored bars with a fresh aggregation of the ticks topic.

    Lists every difference; exit status 0 when there is none, 1 when there are
    differences, 2 for bad arguments or configuration.
    """
    import sys

    from candleflow.verify import Window, run

    try:
        window = Window(symbols, since, until)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    settings = Settings.from_env()
    sys.exit(run(settings, window, out=sys.stdout, err=sys.stderr))
