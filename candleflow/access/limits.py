"""Per-client limits: a request rate (token bucket) and counts of concurrent things.

A client is whatever key the web layer gives (a token's holder, else the remote
address). Both tables are bounded: past `max_keys` clients the one unseen longest is
forgotten, which can only make the limiter more lenient to a client it had forgotten,
never lock anyone out; an attacker spraying keys cannot grow the server's memory.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """`rate` requests per second per client, bursts of up to `burst`."""

    def __init__(
        self, rate: float, burst: int, *, max_keys: int = MAX_KEYS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        """Spend one request of `key`: 0.0 when allowed, else the seconds until it would be."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)


class Counts:
    """How many of something (open streams, say) each client holds, capped at `cap`."""

    def __init__(self, cap: int, *, max_keys: int = MAX_KEYS) -> None:
        if cap < 1:
            raise ValueError("a cap must be at least 1")
        self.cap = cap
        self._max_keys = max_keys
        self._held: dict[str, int] = {}

    def acquire(self, key: str, n: int = 1) -> bool:
        """Take `n` for `key` unless that makes more than `cap` (or the table is full)."""
        held = self._held.get(key, 0)
        if held + n > self.cap or (held == 0 and len(self._held) >= self._max_keys):
            return False
        if n:
            self._held[key] = held + n
        return True

    def release(self, key: str, n: int = 1) -> None:
        held = self._held.get(key, 0) - n
        if held > 0:
            self._held[key] = held
        else:
            self._held.pop(key, None)

    def held(self, key: str) -> int:
        return self._held.get(key, 0)

    def __len__(self) -> int:
        return len(self._held)
