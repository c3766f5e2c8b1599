"""How often the hub fans out: at once when it is idle, less often the more it costs.

A fan-out round writes every pending update to every subscribed client: one `send` per
client and series per round, the hub's main cost, which grows with the clients
(`bench/bench_sse.py` measures it). If every engine commit
triggered a round, the hub would spend the worker's whole time writing, and the
engine's own commits, which share its event loop, would queue behind it.

So updates that arrive between rounds wait in `Pending` (the latest per bar, like the
queue of a client that falls behind), and a round may start no sooner than `REST` times
the part of the previous round's duration beyond `FREE_S` after it ended. A round no
longer than `FREE_S` leaves no gap: rounds that short
follow each other, and a rest would only add to every update's wait. A longer one
spaces the next, so fan-out leaves the engine's batches, which share the loop, about a
third of it whatever the number of clients. The round that ends a gap
sends the newest state of each bar, never an older one that waited.

`REST` and `FREE_S` were chosen with `bench/bench_sse.py` (1,000 and 5,000 clients of
one series; its figures are in the README's Performance section): a larger `REST`
raised the p99 at 5,000 clients several-fold, and `FREE_S` lowered the p50 at 1,000.
Longer gaps cost more than they save: a round then reaches readers that went to sleep,
and waking each costs more than writing to one that is busy.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from candleflow.domain.updates import BarUpdate, Key

#: Idle time after a fan-out round, as a multiple of that round's duration.
REST = 0.5
#: The part of a round's duration that earns no rest: rounds this short follow each other.
FREE_S = 0.02

Slot = tuple[str, str, int]


class Pending:
    """Updates waiting for the next round: the latest per bar, ordered by each bar's last
    change. A bar once flagged a correction stays one (the client must apply it in place)."""

    def __init__(self) -> None:
        self._latest: dict[Slot, tuple[BarUpdate, float]] = {}

    def __len__(self) -> int:
        return len(self._latest)

    def add(self, update: BarUpdate, received: float) -> None:
        slot = (update.symbol, update.resolution, update.time)
        previous = self._latest.pop(slot, None)
        if previous is not None and previous[0].correction and not update.correction:
            update = dataclasses.replace(update, correction=True)
        self._latest[slot] = (update, received)

    def take_series(self, key: Key, most: int) -> list[tuple[BarUpdate, float]]:
        """At most `most` pending updates of one series, the earliest changed first; the
        others stay."""
        slots = [slot for slot in self._latest if slot[:2] == key][:most]
        return [self._latest.pop(slot) for slot in slots]

    def take(self) -> list[tuple[BarUpdate, float]]:
        """Every pending update with the time its latest state arrived; empties the set."""
        taken, self._latest = list(self._latest.values()), {}
        return taken


class Cadence:
    """When the next round may start: `rest` times the last round's duration after it ended."""

    def __init__(self, rest: float = REST, free: float = FREE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.rest = rest
        self.free = free
        self.clock = clock
        self._next = 0.0

    def wait(self) -> float:
        """Seconds until the next round may start (0: now)."""
        return max(0.0, self._next - self.clock())

    def ran(self, started: float) -> None:
        """A round that started at `started` (this cadence's clock) has just ended."""
        ended = self.clock()
        self._next = ended + self.rest * max(0.0, ended - started - self.free)
