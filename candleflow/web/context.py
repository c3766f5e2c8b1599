"""Per-process resources of the web layer: a few asyncpg connections, opened on first use.

Every Faust worker serves the web views, so every worker process reads the database
through one `Database`: at most `MAX_CONNECTIONS` connections, opened when a query finds
none idle and kept open until the web server cleans up. Every view reads with single
statements outside any transaction, so a connection is lent for one statement and taken
straight back: no proxy object, no reset, no release task. asyncpg's `Pool` does the
same lending with all three (its release is a shielded task, one more turn of the event
loop), which measured as a tenth of a 300-bar `/udf/history` answer in the worker.

A connection whose statement failed with anything but PostgreSQL's own error answer
(a timeout, a cancelled request, a dropped socket) may be out of step with its server,
so it is closed instead of lent again; one found closed is replaced. A failed connect is
not remembered: the next query tries again once PostgreSQL is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from candleflow.web.errors import unavailable

MAX_CONNECTIONS = 10
CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 15.0
CLOSE_TIMEOUT = 5.0

#: Errors that mean "the database cannot answer right now", answered with 503.
DB_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    asyncio.TimeoutError,
)

T = TypeVar("T")


class Database:
    """The web layer's connections to one database URL; `fetch`, `fetchrow` and `fetchval`
    as on an asyncpg connection, each on a connection lent for that one statement."""

    def __init__(self, url: str, max_connections: int = MAX_CONNECTIONS) -> None:
        self.url = url
        self._idle: list[asyncpg.Connection] = []
        self._open = 0
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False

    @property
    def open_connections(self) -> int:
        return self._open

    async def connected(self) -> Database:
        """This object, once a connection is open: what views hand to `candleflow.store.queries`
        (so that a database that is down answers 503 before a view starts its work).

        Raises `UdfError` 503 when PostgreSQL cannot be reached."""
        if not self._open:
            self._give_back(await self._lend())
        return self

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return await self._run(lambda connection: connection.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        return await self._run(lambda connection: connection.fetchrow(query, *args))

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._run(lambda connection: connection.fetchval(query, *args))

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

    async def _run(self, statement: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        connection = await self._lend()
        try:
            result = await statement(connection)
        except asyncpg.PostgresError:
            self._give_back(connection)  # PostgreSQL answered: the session is in step
            raise
        except BaseException:
            self._drop(connection)
            raise
        self._give_back(connection)
        return result

    async def _lend(self) -> asyncpg.Connection:
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

    async def _connect(self) -> asyncpg.Connection:
        if self._closed:
            raise unavailable("database (shutting down)")
        try:
            connection = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT)
        except DB_ERRORS as exc:
            raise unavailable("database") from exc
        self._open += 1
        return connection

    def _give_back(self, connection: asyncpg.Connection) -> None:
        if connection.is_closed() or self._closed:
            self._drop(connection)
            return
        self._idle.append(connection)
        self._slots.release()

    def _drop(self, connection: asyncpg.Connection) -> None:
        if not connection.is_closed():
            connection.terminate()
        self._open -= 1
        self._slots.release()
