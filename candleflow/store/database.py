"""`Database`: the one way a process reaches PostgreSQL, a few connections lent on demand.

A process holds one `Database` per URL: at most `max_connections` connections, opened
when a statement finds none idle and kept open until `close`. A connection is lent

* for one statement (`fetch`, `fetchrow`, `fetchval`, `execute`: the `Statements` every
  read function of the store takes) and taken straight back: no proxy object, no reset,
  no release task. asyncpg's `Pool` lends with all three (its release is a shielded
  task, one more turn of the event loop), a visible part of a short `/udf/history`
  answer (`bench/bench_history.py` measures the read);
* or for a transaction (`async with db.transaction() as conn:`), or a block of
  statements of one session (`async with db.connection() as conn:`).

A connection whose statement failed with anything but PostgreSQL's own error answer
(a timeout, a cancelled request, a dropped socket) may be out of step with its server,
so it is closed instead of lent again; one found closed is replaced. A failed connect
raises `DatabaseUnavailable` and is not remembered: the next statement tries again.

`open_database` is the worker's start: migrate and connect, waiting for the database
as long as it takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from candleflow.store.connection import DB_ERRORS, Connection, DatabaseUnavailable, Row, connect, redacted
from candleflow.store.migrate import migrate

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 10
CONNECT_TIMEOUT = 5.0
CLOSE_TIMEOUT = 5.0
#: The longest wait between two attempts to reach a database that is not up yet.
MAX_RETRY_S = 10.0

T = TypeVar("T")


class Database:
    """See the module docstring. `command_timeout` bounds each statement (None: unbounded)."""

    def __init__(
        self, url: str, max_connections: int = MAX_CONNECTIONS, *, command_timeout: float | None = None
    ) -> None:
        self.url = url
        self.command_timeout = command_timeout
        self._idle: list[Connection] = []
        self._open = 0
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False

    @property
    def open_connections(self) -> int:
        return self._open

    async def connected(self) -> Database:
        """This object, once a connection is open (`DatabaseUnavailable` otherwise): a
        view calls it first, so that a database that is down answers before its work."""
        if not self._open:
            self._give_back(await self._lend())
        return self

    async def fetch(self, query: str, *args: Any) -> list[Row]:
        return await self._run(lambda connection: connection.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> Row | None:
        return await self._run(lambda connection: connection.fetchrow(query, *args))

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._run(lambda connection: connection.fetchval(query, *args))

    async def execute(self, query: str, *args: Any) -> str:
        return await self._run(lambda connection: connection.execute(query, *args))

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection of one's own for the block (given back, or closed after a failure
        that was not PostgreSQL's own answer)."""
        connection = await self._lend()
        try:
            yield connection
        except BaseException as exc:
            self._settle(connection, exc)
            raise
        self._give_back(connection)

    @contextlib.asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[Connection]:
        """A connection inside a transaction that commits when the block ends (rolls back
        when it raises)."""
        async with self.connection() as connection, connection.transaction(readonly=readonly):
            yield connection

    async def close(self) -> None:
        """Close the idle connections; those still lent are closed when they come back."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            self._open -= 1
            try:
                await asyncio.wait_for(connection.close(), CLOSE_TIMEOUT)
            except DB_ERRORS:
                connection.terminate()

    async def _run(self, statement: Callable[[Connection], Awaitable[T]]) -> T:
        connection = await self._lend()  # not `connection()`: a generator per statement costs
        try:
            result = await statement(connection)
        except BaseException as exc:
            self._settle(connection, exc)
            raise
        self._give_back(connection)
        return result

    def _settle(self, connection: Connection, exc: BaseException) -> None:
        """A connection whose work raised `exc`: PostgreSQL's own answer leaves the session
        in step (lent again); anything else may not (closed)."""
        if isinstance(exc, asyncpg.PostgresError):
            self._give_back(connection)
        else:
            self._drop(connection)

    async def _lend(self) -> Connection:
        await self._slots.acquire()  # no wait while fewer than the maximum are lent
        try:
            while self._idle:
                connection = self._idle.pop()
                if not connection.is_closed():
                    return connection
                self._open -= 1
            return await self._connect()
        except BaseException:
            self._slots.release()
            raise

    async def _connect(self) -> Connection:
        if self._closed:
            raise DatabaseUnavailable(f"{redacted(self.url)}: this process is shutting down")
        connection = await connect(self.url, connect_timeout=CONNECT_TIMEOUT, command_timeout=self.command_timeout)
        self._open += 1
        return connection

    def _give_back(self, connection: Connection) -> None:
        if connection.is_closed() or self._closed:
            self._drop(connection)
            return
        self._idle.append(connection)
        self._slots.release()

    def _drop(self, connection: Connection) -> None:
        if not connection.is_closed():
            connection.terminate()
        self._open -= 1
        self._slots.release()


async def open_database(url: str, max_connections: int, *, command_timeout: float | None = None) -> Database:
    """Migrate and connect, waiting for the database as long as it takes (the worker's
    start: PostgreSQL may come up after it)."""
    delay = 0.5
    while True:
        try:
            await migrate(url)
            return await Database(url, max_connections, command_timeout=command_timeout).connected()
        except DB_ERRORS as exc:
            log.warning("database %s not ready (%r); retrying in %.1f s", redacted(url), exc, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_RETRY_S)
