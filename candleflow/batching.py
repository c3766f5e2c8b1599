"""Collect a stream's items into batches by size or by age, with back-pressure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

Flush = Callable[[list[Any]], Awaitable[None]]


class Batcher:
    """Collects items and flushes them when `max_size` are pending or the oldest has
    waited `within` seconds. `add` awaits a full flush, which is the back-pressure that
    keeps the stream from running ahead of the database."""

    def __init__(self, max_size: int, within: float, flush: Flush) -> None:
        self.max_size = max_size
        self.within = within
        self._flush = flush
        self._pending: list[Any] = []
        self._lock = asyncio.Lock()
        self._first_at: float | None = None
        self._wake = asyncio.Event()

    async def add(self, item: Any) -> None:
        self._pending.append(item)
        if len(self._pending) == 1:
            self._first_at = time.monotonic()
            self._wake.set()
        if len(self._pending) >= self.max_size:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            batch, self._pending, self._first_at = self._pending, [], None
            if batch:
                await self._flush(batch)

    async def run_timer(self) -> None:
        """Flush partial batches on time; run as a task beside the stream loop."""
        while True:
            if self._first_at is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            remaining = self._first_at + self.within - time.monotonic()
            if remaining > 0:
                await asyncio.sleep(remaining)
                continue
            await self.flush()
