"""Keeping under a venue's limits: at most `rate` actions per second, spaced evenly.

Venues disconnect or ban a client that sends too fast (Binance: 5 incoming messages a
second per connection, 300 connections per 5 minutes per address). A `Pace` is the one
gate such actions pass: each `wait()` returns no sooner than `1 / rate` seconds after
the previous one, so bursts are spread instead of refused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class Pace:
    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0 per second, got {rate}")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Return once this action may go (first come, first served)."""
        async with self._lock:
            now = self._clock()
            if self._next > now:
                await self._sleep(self._next - now)
                now = self._clock()
            self._next = max(now, self._next) + self.interval
