"""`candleflow db ...`: the database's schema and its check against the tick log.

`migrate` drives `candleflow.store.migrate`; `verify` drives `candleflow.maintenance.verify`
(the one command that reads the log and the database together, so the group sits with
the operator tools, above both)."""

from __future__ import annotations

import sys

import click

from candleflow import startup
from candleflow.core import command
from candleflow.core.cli_options import INSTANT, SYMBOLS


@click.group()
def db() -> None:
    """Database schema and checks (CANDLEFLOW_DATABASE_URL)."""


@db.command()
def migrate() -> None:
    """Apply sql/*.sql in order; already applied files are skipped."""
    from candleflow.store.connection import capability, connect
    from candleflow.store.migrate import migrate as run_migrations

    async def main(run: command.Invocation) -> None:
        await startup.check(run.settings, kafka=False)
        url = run.settings.database_url
        applied = await run_migrations(url)
        conn = await connect(url)
        try:
            found = await capability(conn)
        finally:
            await conn.close()
        for name in applied:
            click.echo(f"applied {name}")
        if not applied:
            click.echo("schema up to date")
        click.echo(
            "capability: timescaledb"
            if found == "timescaledb"
            else "capability: postgresql (timescaledb not available)"
        )

    command.run(main, name="candleflow db migrate")


@db.command()
@click.option("--symbols", type=SYMBOLS, help="Comma-separated symbols (Exchange:BASE/QUOTE); default all.")
@click.option("--since", type=INSTANT, help="Compare bars whose bucket is >= this (ISO 8601 or epoch ms).")
@click.option("--until", type=INSTANT, help="Compare bars whose bucket is < this (ISO 8601 or epoch ms).")
def verify(symbols: tuple[str, ...] | None, since: int | None, until: int | None) -> None:
    """Compare stored bars with a fresh aggregation of the ticks topic.

    Lists every difference; exit status 0 when there is none, 1 when there are
    differences, 2 for bad arguments or configuration, 3 when Kafka or PostgreSQL
    cannot be reached.
    """
    from candleflow.maintenance.verify import Window
    from candleflow.maintenance.verify import verify as run_verify

    try:
        window = Window(None if symbols is None else frozenset(symbols), since, until)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    async def main(run: command.Invocation) -> int:
        await startup.check(run.settings)
        return await run_verify(run.settings, window, out=sys.stdout, err=run.err)

    command.run(main, name="candleflow db verify")
