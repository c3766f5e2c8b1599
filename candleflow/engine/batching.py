"""When an engine batch closes: natural batching (group commit) with caps.

A batch gathers while the previous batch's transaction runs, and closes as soon as
nothing more is buffered once that commit is done: a quiet stream commits every tick
without waiting, and a busy one, whose records pile up during each commit, grows its
batches by itself. `max_size` (`CANDLEFLOW_BATCH_MAX`) and `within`
(`CANDLEFLOW_BATCH_WITHIN`, counted from the batch's first record) only cap that: a
batch that reaches either closes even while the previous commit still runs, and is
prepared (the CPU half) while it waits for it.

The reader's fetch while the previous commit runs ends the moment that commit does
(`candleflow.engine.reader`), so `wait_ms` is the time left until the age cap, never a
polling interval: a batch closes as soon as it may, not at the next poll.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

#: How long one fetch may wait for a batch's first record.
IDLE_WAIT_MS = 1000


class Gathering:
    """One batch being gathered. The reader asks `closed()`, fetches for `wait_ms()`
    at most `room` records, and `add`s what came (possibly nothing)."""

    def __init__(self, max_size: int, within: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_size = max_size
        self.within = within
        self.clock = clock
        self.records: list[Any] = []
        self._opened: float | None = None
        #: True once a fetch made after the previous commit ended found nothing buffered.
        self._drained = False

    @property
    def room(self) -> int:
        return self.max_size - len(self.records)

    def _age(self) -> float:
        return 0.0 if self._opened is None else self.clock() - self._opened

    def closed(self, previous_done: bool) -> bool:
        if not self.records:
            return False
        if self.room <= 0 or self._age() >= self.within:
            return True
        return previous_done and self._drained

    def wait_ms(self, previous_done: bool) -> int:
        """How long the next fetch may wait for records (while the previous commit runs,
        the reader also stops waiting when that commit ends)."""
        if not self.records:
            return IDLE_WAIT_MS
        if previous_done:
            return 0  # take what is buffered now, wait for nothing
        return max(0, math.ceil((self.within - self._age()) * 1000))

    def add(self, records: Sequence[Any], previous_done: bool) -> None:
        """What one fetch returned; `previous_done` as it was when the fetch started."""
        if records and self._opened is None:
            self._opened = self.clock()
        self.records.extend(records)
        self._drained = previous_done and not records
