"""Freed memory handed back to the operating system.

When a crowd of clients leaves a web process (2,500 silent SSE clients dropped for the
bytes they left unread), Python frees what each held, but glibc's allocator keeps the
freed pages of its heap for later use: the process's resident memory stays at its peak.
`malloc_trim(0)` returns every whole free page of every heap at once (a few
milliseconds for a few hundred MB). Objects of Python's own small-object allocator stay
in its arenas until an arena empties; those pages are reused by the next clients
rather than returned (`tests/integration/web/test_silent_clients.py` states the bound).

On a C library without `malloc_trim` (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def give_back() -> bool:
    """Return the C heap's free pages to the operating system; True when some were."""
    trim = _malloc_trim()
    if trim is None:
        return False
    return bool(trim(0))


class Departures:
    """Gives memory back once a wave of `threshold` or more (clients) has left: counted
    from the most there were, when the count stops falling (what the last of them held
    is freed by then), or once `PATIENCE` thresholds have gone while it still falls. A
    steady coming and going costs nothing."""

    PATIENCE = 8

    def __init__(self, threshold: int, give: Callable[[], bool] = give_back) -> None:
        self.threshold = threshold
        self.give = give
        self._high = 0
        self._last = 0

    def count(self, now: int) -> bool:
        """`now` of them are here (sampled now and then); True when this call gave memory back."""
        falling, self._last = now < self._last, now
        self._high = max(self._high, now)
        left = self._high - now
        if left < self.threshold or (falling and left < self.PATIENCE * self.threshold):
            return False
        self._high = now
        returned = self.give()
        log.debug("%d clients left: freed memory returned to the system (%s)", left, returned)
        return True
