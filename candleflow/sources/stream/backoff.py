"""How long to wait before the next connection: capped exponential backoff with jitter,
never below a floor the venue or the situation sets.

Not a retry library's loop: a feed never gives up, its backoff starts afresh whenever a
connection delivered trades, and a venue's own rate-limit message raises the floor of
the next delay. `Backoff.delays` records every delay chosen (the test seam, with the
injected random generator).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Timing:
    """Every delay of a streaming client; tests shrink them, production keeps the defaults."""

    heartbeat_interval: float = 60.0  # CryptoCompare beats every 30-60 s; two missed: reconnect
    backoff_initial: float = 5.0
    backoff_max: float = 120.0
    min_reconnect_delay: float = 5.0  # never reconnect sooner than this after a failure
    rate_limit_delay: float = 5.0  # a rate-limit reply waits at least this long
    too_many_sockets_delay: float = 60.0  # another socket of the key must close first
    connect_timeout: float = 20.0
    jitter: float = 0.25  # delays vary by +-25 %, but never below the minimum
    #: a venue's own scheduled close (Binance after 24 h, a maintenance notice) reconnects at once
    scheduled_reconnect_delay: float = 0.5
    #: scale of every venue liveness window (silence, ping interval); tests shrink it
    liveness_scale: float = 1.0
    #: scale of the wait between connection attempts the venue's limit asks for; tests shrink it
    connect_pace_scale: float = 1.0


class Backoff:
    def __init__(self, timing: Timing, rng: random.Random | None = None) -> None:
        self.timing = timing
        self.attempt = 0
        self.delays: list[float] = []
        self._rng = rng if rng is not None else random.Random()

    def reset(self) -> None:
        """The last connection worked: the next failure starts from the first delay."""
        self.attempt = 0

    def next(self, floor: float = 0.0, *, minimum: float | None = None) -> float:
        """The delay before the next attempt: at least `floor` and the timing's minimum
        (or `minimum` when given, for a scheduled reconnect)."""
        t = self.timing
        backoff = min(t.backoff_max, t.backoff_initial * 2.0**self.attempt)
        backoff *= 1 + self._rng.uniform(-t.jitter, t.jitter)
        least = t.min_reconnect_delay if minimum is None else minimum
        delay = max(backoff if minimum is None else least, floor, least)
        self.attempt += 1
        self.delays.append(delay)
        return delay
