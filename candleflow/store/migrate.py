"""The migrations (`sql/*.sql`, carried in the wheel as package data) applied in name
order, each once, recorded in `schema_migrations`.

Every migration runs in its own transaction together with its record, under an
advisory lock, so workers that all migrate at start never race. Before the files,
`CREATE EXTENSION IF NOT EXISTS timescaledb` is attempted; failing it is normal on
plain PostgreSQL and only changes the capability the migrations see.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import asyncpg

from candleflow.core.bundled import bundled
from candleflow.domain.exceptions import CandleflowError
from candleflow.store.connection import connect

log = logging.getLogger(__name__)

#: Any constant works: it only has to be the same for every candleflow process.
LOCK_KEY = 0x63616E646C65  # "candle"

LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name        text PRIMARY KEY,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(CandleflowError):
    """A migration file failed; the message names it."""


def sql_dir() -> Path:
    """The migrations: inside the installed package, or `sql/` of the clone."""
    path = bundled("sql")
    if path.is_dir() and any(path.glob("*.sql")):
        return path
    raise MigrationError(
        f"no migrations in {path}: install candleflow from its wheel (pip install candleflow-*.whl) "
        "or from a clone (pip install -e .)"
    )


def migrations(directory: Path | None = None) -> list[Path]:
    """The migration files in the order they apply."""
    return sorted((directory or sql_dir()).glob("*.sql"), key=lambda p: p.name)


async def try_timescaledb(conn: asyncpg.Connection) -> bool:
    """Enable TimescaleDB if the server has it; False (and no harm) when it has not."""
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except asyncpg.PostgresError as exc:
        # One line: the server's DETAIL and HINT (the control file it looked for) say nothing
        # a user of plain PostgreSQL needs, and used to follow every start.
        log.info("timescaledb: not available (plain PostgreSQL): %s", exc.args[0] if exc.args else type(exc).__name__)
        return False
    return True


async def migrate(database_url: str, directory: Path | None = None, **connect_kwargs: Any) -> list[str]:
    """Apply the migrations this database has not seen; returns their names.

    `connect_kwargs` go to `asyncpg.connect` (e.g. `statement_cache_size=0` for a
    server whose clients share one session, like the PGlite test aid).
    """
    files = migrations(directory)
    conn = await connect(database_url, **connect_kwargs)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        try:
            await try_timescaledb(conn)
            await conn.execute(LEDGER)
            return await _apply(conn, files)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    finally:
        await conn.close()


async def _apply(conn: asyncpg.Connection, files: list[Path]) -> list[str]:
    done = dict(await conn.fetch("SELECT name, checksum FROM schema_migrations"))
    applied = []
    for path in files:
        text = path.read_text()
        checksum = hashlib.sha256(text.encode()).hexdigest()
        if path.name in done:
            if done[path.name] != checksum:
                log.warning("migration %s changed since it was applied; not re-applied", path.name)
            continue
        try:
            async with conn.transaction():
                await conn.execute(text)
                await conn.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                    path.name,
                    checksum,
                )
        except asyncpg.PostgresError as exc:
            raise MigrationError(f"migration {path} failed: {exc}") from exc
        log.info("applied migration %s", path.name)
        applied.append(path.name)
    return applied
