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
