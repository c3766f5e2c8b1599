"""What one rebuild covers: the bucket cutoff of `--from` and the log offsets to read.

`--from T` rebuilds only buckets starting at or after the cutoff C: the Monday on or
before the first day of T's month. Every bucket of every supported resolution that
starts at or after C (weeks start on Mondays, months on the 1st) then lies entirely
after C, so it is built only from ticks with event time >= C — and none of the buckets
before C is touched. The log is read from the offsets whose append time is
`C - lateness`: a tick appended more than `lateness` after its event time (and before
that offset) is missed.
"""

from __future__ import annotations

from collections.abc import Mapping

from candleflow.domain.resolution import parse_resolution
from candleflow.kafka.log_reader import Span

DEFAULT_LATENESS_MS = 24 * 3600 * 1000


def cutoff(from_ms: int) -> int:
    """C for `--from from_ms`: the Monday 00:00 UTC on or before the 1st of its month."""
    return parse_resolution("W").floor(parse_resolution("M").floor(from_ms))


def targets(ledger: Mapping[int, int], ends: Mapping[int, int]) -> dict[int, int]:
    """Where the fast path stops per partition: the live engine's `next_offset`, or the
    end of the log for a partition no engine has a ledger row for (nothing absorbed:
    the rebuild takes it over and advances the ledger to there)."""
    return {p: ledger.get(p, end) for p, end in ends.items()}


def final_offsets(targets: Mapping[int, int], locked: Mapping[int, int]) -> dict[int, int]:
    """The ledger after the swap: the rebuilt state covers `[.., max(target, locked))`.

    `locked` is the ledger read under lock at swap time; when the engine got further
    than the fast path, the ticks in between are read in the swap (the catch-up)."""
    return {p: max(targets[p], locked.get(p, 0)) for p in targets}


def catch_up(targets: Mapping[int, int], locked: Mapping[int, int]) -> dict[int, Span]:
    """Offsets the live engine absorbed after the snapshot: read during the swap."""
    return {p: Span(t, locked[p]) for p, t in targets.items() if locked.get(p, 0) > t}
