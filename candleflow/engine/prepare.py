"""The CPU half of an engine batch: records in, bar deltas out, outside any transaction.

`prepare` keeps the first delivery of every offset at or above each partition's floor
(the ledger's next offset, when the transaction found records below it) — a rebalance in
the middle of gathering re-seeks a partition, so one batch can hold a run of offsets
twice — then decodes and validates the kept values as one batch
(`candleflow.domain.tick_decode`), folds the valid ticks into 1-second bars
(`candleflow.domain.fold`) and rolls those up into every resolution. The per-record work
is a few list and numpy passes; Python runs per bar, not per tick.

Each refused record becomes a `Reject`: its place in the log and its bounded dead letter
(`candleflow.domain.dead_letters`), which the batch's transaction stores in the outbox
(`candleflow.engine.outbox`). `refused` makes every kept record of a batch a reject
with that reason: what the runner does with a record the store itself refused
(`candleflow.engine.runner`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from candleflow.core import metrics
from candleflow.domain.bars import Bar, BarKey, roll_up
from candleflow.domain.dead_letters import Origin, dead_key, dead_letter
from candleflow.domain.fold import fold_seconds
from candleflow.domain.symbols import SymbolSeen
from candleflow.domain.tick_decode import decode_batch
from candleflow.kafka.log_reader import LogRecord

APPEND_TO_READ = metrics.LIVE_STAGE_SECONDS.labels("append_to_read")
#: Who refused a record, in its dead letter.
SOURCE = "engine"


class Reject(NamedTuple):
    """A refused record: where it sits in the log, and its dead letter (key and value)."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass
class Prepared:
    """A batch decoded and aggregated, ready for its transaction."""

    records: Sequence[LogRecord]
    deltas: dict[BarKey, Bar] = field(default_factory=dict)
    seen: dict[str, SymbolSeen] = field(default_factory=dict)
    partition_of: dict[str, int] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    #: per partition: first offset kept, and the offset after the last one kept
    first: dict[int, int] = field(default_factory=dict)
    next_offsets: dict[int, int] = field(default_factory=dict)
    #: per partition: the lowest offset of any record, and the offset after the highest
    lowest: dict[int, int] = field(default_factory=dict)
    ends: dict[int, int] = field(default_factory=dict)
    absorbed: int = 0
    skipped: int = 0
    #: time.time() when the batch was read (prepared)
    read_at: float = 0.0
    #: the reason every record was rejected with (`prepare(refused=...)`), if so
    refused: str | None = None
    #: what preparing raised, if it did (`BarEngine.commit` raises it)
    error: Exception | None = None


def prepare(
    records: Sequence[LogRecord],
    *,
    topic: str,
    future_tolerance_s: float,
    floor: Mapping[int, int] | None = None,
    refused: str | None = None,
) -> Prepared:
    """Decode, validate and aggregate `records` of `topic` (see the module docstring)."""
    read_at = time.time()
    prepared = Prepared(records=records, read_at=read_at, refused=refused)
    count = len(records)
    if not count:
        return prepared
    partition = np.fromiter((r.partition for r in records), dtype=np.int64, count=count)
    offset = np.fromiter((r.offset for r in records), dtype=np.int64, count=count)
    keep = np.zeros(count, dtype=bool)
    oldest_ms = 0
    for p in np.unique(partition).tolist():
        where = np.flatnonzero(partition == p)
        offsets = offset[where]
        fresh = np.ones(len(offsets), dtype=bool)
        fresh[1:] = offsets[1:] > np.maximum.accumulate(offsets)[:-1]
        if floor is not None:
            fresh &= offsets >= floor[p]
        prepared.lowest[p] = int(offsets.min())
        prepared.ends[p] = int(offsets.max()) + 1
        kept = offsets[fresh]
        if len(kept):
            prepared.first[p] = int(kept[0])
            prepared.next_offsets[p] = int(kept[-1]) + 1  # kept offsets only ever rise
            appended = records[int(where[fresh][0])].timestamp
            if appended > 0 and (not oldest_ms or appended < oldest_ms):
                oldest_ms = appended
        keep[where[fresh]] = True
    if floor is None and oldest_ms:
        APPEND_TO_READ.observe(max(0.0, read_at - oldest_ms / 1000))
    chosen = np.flatnonzero(keep)
    prepared.skipped = count - len(chosen)
    indices = chosen.tolist()
    values = [records[i].value for i in indices]
    if refused is not None:
        for i in indices:
            prepared.rejects.append(_reject(records[i], topic, refused))
        return prepared
    decoded = decode_batch(values, now_ms=int(read_at * 1000), future_tolerance_s=future_tolerance_s)
    for position, reason in decoded.rejects:
        prepared.rejects.append(_reject(records[indices[position]], topic, reason))
    ticks = decoded.ticks
    prepared.absorbed = len(ticks)
    folded = fold_seconds(ticks, offset[chosen][ticks.positions])
    prepared.seen = folded.seen
    prepared.partition_of = {symbol: int(partition[indices[at]]) for symbol, at in folded.sample.items()}
    prepared.deltas = roll_up(folded.bars)
    return prepared


def _reject(record: LogRecord, topic: str, reason: str) -> Reject:
    origin = Origin(topic, record.partition, record.offset)
    value = dead_letter(record.value, reason, SOURCE, origin)
    return Reject(record.partition, record.offset, dead_key(record.key), value)
