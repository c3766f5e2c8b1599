"""Is the engine stalled? A pure decision from samples of the log and the ledger.

Every few seconds the worker's monitor (`candleflow.engine.monitor`) samples, for each
partition the worker holds, the end of the log (the broker's end offset, asked on its
own connection: the reader's fetch highwater stops moving when the reader does) and the
ledger's next offset (from PostgreSQL, on its own connection). `assess` reads those:

* a partition's **lag** is the log end minus the ledger's next offset, at the latest
  sample;
* a partition is **stalled** when, back from the latest sample, every sample for at
  least `after` seconds shows the same ledger offset with work waiting (lag > 0): ticks
  are there and nothing commits them. Lag that does not shrink and a last commit that
  is too old while there is lag are the same fact seen from the ledger: the engine
  took none of the waiting ticks.

An engine that commits but falls behind (lag growing while the ledger moves) is not
stalled: it is busy, and its lag is in `/healthz` and `/metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Sample:
    """One look at the partitions a worker holds: `at` (monotonic seconds), the log's end
    offset and the ledger's next offset of each."""

    at: float
    ends: Mapping[int, int]
    next: Mapping[int, int]

    def lag(self, partition: int) -> int | None:
        """Ticks waiting in `partition` (None when this sample did not see it)."""
        if partition not in self.ends or partition not in self.next:
            return None
        return max(0, self.ends[partition] - self.next[partition])


@dataclass(frozen=True, slots=True)
class Assessment:
    """What `assess` found: lag per partition at the latest sample, the stalled partitions
    and for how long each has made no progress with work waiting."""

    lag: dict[int, int] = field(default_factory=dict)
    stalled: dict[int, float] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.lag.values())

    @property
    def is_stalled(self) -> bool:
        return bool(self.stalled)


def assess(samples: Sequence[Sample], after: float) -> Assessment:
    """The assessment of `samples` (oldest first; see the module docstring)."""
    if not samples:
        return Assessment()
    latest = samples[-1]
    lag: dict[int, int] = {}
    stalled: dict[int, float] = {}
    for partition in sorted(latest.ends.keys() & latest.next.keys()):
        waiting = latest.lag(partition)
        assert waiting is not None
        lag[partition] = waiting
        if waiting == 0:
            continue
        since = _waiting_since(samples, partition, latest.next[partition])
        if latest.at - since >= after:
            stalled[partition] = latest.at - since
    return Assessment(lag, stalled)


def _waiting_since(samples: Sequence[Sample], partition: int, next_offset: int) -> float:
    """When the run of samples that end the list — each with `partition` at `next_offset`
    and work waiting — began."""
    since = samples[-1].at
    for sample in reversed(samples):
        waiting = sample.lag(partition)
        if waiting is None or waiting == 0 or sample.next[partition] != next_offset:
            break
        since = sample.at
    return since
