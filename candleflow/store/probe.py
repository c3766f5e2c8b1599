"""Is PostgreSQL reachable, and what is it? A probe on a connection of its own.

`DatabaseProbe` asks for the capability (`candleflow.store.connection.capability`) on one
connection kept for it (opened again after a failure), never one of the process's
`Database`, so that a flood of reads cannot make a healthy database look unreachable;
its answer is cached `ttl` seconds.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from candleflow.store.connection import Capability, Connection, capability, connect

PROBE_TIMEOUT_S = 3.0
CACHE_S = 2.0


@dataclass(frozen=True, slots=True)
class DatabaseAnswer:
    reachable: bool
    error: str | None
    at: float
    capability: Capability | None = None


class DatabaseProbe:
    """See the module docstring."""

    def __init__(self, url: str, ttl: float = CACHE_S) -> None:
        self.url = url
        self.ttl = ttl
        self._last: DatabaseAnswer | None = None
        self._conn: Connection | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> DatabaseAnswer:
        async with self._lock:
            if self._last is None or time.monotonic() - self._last.at > self.ttl:
                self._last = await self._probe()
            return self._last

    async def _probe(self) -> DatabaseAnswer:
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await connect(self.url, connect_timeout=PROBE_TIMEOUT_S)
            found = await asyncio.wait_for(capability(self._conn), PROBE_TIMEOUT_S)
            return DatabaseAnswer(True, None, time.monotonic(), found)
        except Exception as exc:  # any failure means "not reachable", reported as text
            await self.close()
            cause = exc.__cause__ or exc
            return DatabaseAnswer(False, f"{type(cause).__name__}: {cause}"[:300], time.monotonic())

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()
