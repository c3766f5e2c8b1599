"""What the store talks to: the typed shape of an asyncpg connection, one way to open
one, the errors that mean "the database cannot answer", and the capability probe.

asyncpg ships no type information, so the store states what it uses of a connection
as protocols: `Statements` (single statements: what `candleflow.store.database.Database`
lends a connection for, and what every read function takes), `Connection` (a
connection of one's own: transactions, COPY, cursors) and `Lender` (where both come
from: the `Database`). Database URLs are handed to
asyncpg as they are, so `sslmode`, `sslrootcert` and the other libpq parameters it
reads from the DSN work.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, Protocol

import asyncpg

from candleflow.domain.exceptions import Unavailable

Capability = Literal["timescaledb", "postgresql"]


class Row(Protocol):
    """One result row (an `asyncpg.Record`): by column name or position."""

    def __getitem__(self, key: int | str, /) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...
    def get(self, key: str, default: Any = None, /) -> Any: ...
    def keys(self) -> Iterable[str]: ...
    def values(self) -> Iterable[Any]: ...
    def items(self) -> Iterable[tuple[str, Any]]: ...


class Statements(Protocol):
    """Anything that runs one statement at a time: a `Connection` or the `Database`."""

    async def fetch(self, query: str, *args: Any) -> list[Row]: ...
    async def fetchrow(self, query: str, *args: Any) -> Row | None: ...
    async def fetchval(self, query: str, *args: Any) -> Any: ...
    async def execute(self, query: str, *args: Any) -> str: ...


class Connection(Statements, Protocol):
    """A connection held for more than one statement."""

    async def executemany(self, command: str, args: Iterable[Sequence[Any]]) -> None: ...
    async def copy_records_to_table(
        self, table_name: str, *, records: Iterable[Sequence[Any]], columns: Sequence[str] | None = None
    ) -> str: ...
    def transaction(
        self, *, isolation: str | None = None, readonly: bool = False, deferrable: bool = False
    ) -> AbstractAsyncContextManager[Any]: ...
    def cursor(self, query: str, *args: Any, prefetch: int | None = None) -> AsyncIterable[Row]: ...
    async def close(self) -> None: ...
    def is_closed(self) -> bool: ...
    def terminate(self) -> None: ...


class Lender(Statements, Protocol):
    """Where connections come from (`candleflow.store.database.Database`): one for each
    statement, one for a transaction, or one for a block of a session's statements."""

    def transaction(self, *, readonly: bool = False) -> AbstractAsyncContextManager[Connection]: ...

    def connection(self) -> AbstractAsyncContextManager[Connection]: ...


class DatabaseUnavailable(Unavailable):
    """PostgreSQL cannot be reached or refuses the login."""


#: Errors that mean "the database cannot answer right now" (down, unreachable, too slow).
DB_ERRORS: tuple[type[BaseException], ...] = (
    DatabaseUnavailable,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    asyncio.TimeoutError,
)


def redacted(database_url: str) -> str:
    """`database_url` without its password (for messages and logs)."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", database_url)


def unavailable(database_url: str, exc: BaseException) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"cannot reach PostgreSQL at {redacted(database_url)} ({type(exc).__name__}: {exc}): start it "
        '(eval "$(candleflow stack up)") or set CANDLEFLOW_DATABASE_URL'
    )


async def connect(database_url: str, *, connect_timeout: float = 10, **kwargs: Any) -> Connection:
    """One connection; `kwargs` go to `asyncpg.connect` (e.g. statement_cache_size=0,
    command_timeout). `DatabaseUnavailable` when it cannot be opened."""
    try:
        connection: Connection = await asyncpg.connect(database_url, timeout=connect_timeout, **kwargs)
    except (TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise unavailable(database_url, exc) from exc
    return connection


async def capability(db: Statements) -> Capability:
    """`timescaledb` when the extension is installed in this database, else `postgresql`."""
    found = await db.fetchval("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')")
    return "timescaledb" if found else "postgresql"
