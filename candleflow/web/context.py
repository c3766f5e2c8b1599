"""Per-process resources of the web layer: the asyncpg pool, created on first use.

Every Faust worker serves the web views, so every worker process holds one small pool
(1 to 10 connections). The pool is created lazily by the first request that needs
the database and closed when the web server cleans up; a failed creation is not
cached, so the next request tries again once PostgreSQL is back.
"""

from __future__ import annotations

import asyncio

import asyncpg

from candleflow.web.errors import unavailable

POOL_MIN = 1
POOL_MAX = 10
CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 15.0

#: Errors that mean "the database cannot answer right now", answered with 503.
DB_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    asyncio.TimeoutError,
)


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (one round trip per request): web views only
    read, never LISTEN, lock or SET, so a released connection has nothing to undo. An open
    transaction is still rolled back by the pool before this is called."""


class Database:
    """A lazily created asyncpg pool for one database URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def pool(self) -> asyncpg.Pool:
        """The pool, created on first call; raises `UdfError` 503 if PostgreSQL is down."""
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is None:
                try:
                    self._pool = await asyncpg.create_pool(
                        self.url,
                        min_size=POOL_MIN,
                        max_size=POOL_MAX,
                        timeout=CONNECT_TIMEOUT,
                        command_timeout=COMMAND_TIMEOUT,
                        reset=_keep_session,
                    )
                except DB_ERRORS as exc:
                    raise unavailable("database") from exc
            return self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), timeout=5)
            except DB_ERRORS:
                pool.terminate()
