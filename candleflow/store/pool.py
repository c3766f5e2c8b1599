"""asyncpg connections, with errors that say how to reach the database, and
the capability probe: is this TimescaleDB or plain PostgreSQL?"""

from __future__ import annotations

from typing import Any, Literal

import asyncpg

from candleflow.domain.exceptions import CandleflowError

Capability = Literal["timescaledb", "postgresql"]


class DatabaseUnavailable(CandleflowError):
    """PostgreSQL cannot be reached or refuses the login."""


def _unavailable(database_url: str, exc: BaseException) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"cannot reach PostgreSQL at {database_url} ({type(exc).__name__}: {exc}): start it "
        '(eval "$(candleflow stack up)") or set CANDLEFLOW_DATABASE_URL'
    )


async def connect(database_url: str, *, connect_timeout: float = 10, **kwargs: Any) -> asyncpg.Connection:
    """One connection; `kwargs` go to `asyncpg.connect` (e.g. statement_cache_size=0)."""
    try:
        return await asyncpg.connect(database_url, timeout=connect_timeout, **kwargs)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        raise _unavailable(database_url, exc) from exc


async def detect_capability(conn: asyncpg.Connection) -> Capability:
    """`timescaledb` when the extension is installed in this database, else `postgresql`."""
    found = await conn.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    return "timescaledb" if found else "postgresql"
