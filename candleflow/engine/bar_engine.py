"""The bar engine: one batch of `ticks.raw` records in, one database transaction out.

`BarEngine` is independent of Faust, so the reader, the tests and the benchmarks drive
the same engine. Per batch it

1. decodes, validates and aggregates the whole batch outside any transaction
   (`candleflow.engine.prepare`: CPU work the reader overlaps with the previous batch's
   commit);
2. in the transaction (`commit`), locks the ledger rows of the batch's partitions and drops records below each
   partition's `next_offset` — they were absorbed before (a re-delivery);
3. stores the invalid records' dead letters in the outbox (`store.dead_letters`; the
   outbox publishes them after the commit, each once: `candleflow.engine.outbox`),
   merges the valid ticks' bar deltas into `bars`, upserts `symbols` and advances the
   ledger (one statement, `store.bars.absorb`), recomputes the functions (indicators and
   signals) of every series from its earliest changed bar and writes them (one more) —
   then commits: about five round trips to the database per batch, whatever its size;
4. publishes every changed bar to `bars.updates` (`candleflow.domain.updates`) the moment the
   transaction commits, flagging corrections (a change to a bar older than a bar the
   series already had); the acknowledgements are awaited off the batch path.

`candleflow.engine.runner` drives it: it retries a batch through outages and splits a
batch the store refuses until the refused records are found.

A crash between commit and publish loses those updates; `republish_current`, run
when a worker starts, publishes the current bar of the most recently active series
so that every hub (and chart) ends on what the database holds without a new tick.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from candleflow.core.engine_status import EngineStatus
from candleflow.core.settings import Settings
from candleflow.domain.bars import SeriesKey
from candleflow.domain.resolution import SUPPORTED_CODES
from candleflow.domain.updates import BarUpdate
from candleflow.engine.prepare import Prepared, prepare
from candleflow.engine.tails import BarOutputs, TailCache
from candleflow.functions.api import FunctionBar
from candleflow.functions.failures import report_failures
from candleflow.functions.recompute import Computed, SeriesInput, compute, missing_seeds
from candleflow.functions.registry import FunctionSet, from_settings
from candleflow.kafka.log_reader import LogRecord
from candleflow.store import bars as store
from candleflow.store import dead_letters, series
from candleflow.store.bars import StoredBar
from candleflow.store.connection import Lender

log = logging.getLogger(__name__)

#: Symbols (most recent tick first) whose current bars a starting worker republishes.
REPUBLISH_SYMBOLS = 1000


class Sink(Protocol):
    """Where the engine's bar updates go."""

    async def bar_updates(self, updates: Sequence[BarUpdate]) -> None: ...


@dataclass
class BatchResult:
    absorbed: int = 0
    redelivered: int = 0
    rejected: int = 0
    late: int = 0
    bars: list[StoredBar] = field(default_factory=list)
    corrections: set[tuple[str, str, int]] = field(default_factory=set)
    next_offsets: dict[int, int] = field(default_factory=dict)


class BarEngine:
    def __init__(
        self,
        settings: Settings,
        pool: Lender,
        sink: Sink,
        *,
        consumer: str | None = None,
        topic: str | None = None,
        functions: FunctionSet | None = None,
        status: EngineStatus | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.sink = sink
        #: What this engine reports to `/healthz` (its owner's, or one of its own).
        self.status = status if status is not None else EngineStatus()
        self.consumer = consumer or settings.app_id
        self.topic = topic or settings.ticks_topic
        #: Raises FunctionConfigError (what to fix) when the configuration names a bad function.
        self.functions = functions or from_settings(settings)
        self.tails = TailCache(keep=self.functions.needed + 64)
        #: (next_offset, epoch) this engine last committed per partition: while the ledger
        #: still shows them, nobody else wrote and the series tails in memory are valid.
        self.written: dict[int, tuple[int, int]] = {}

    async def process(self, records: Sequence[LogRecord]) -> BatchResult:
        """Absorb one batch in one transaction (see the module docstring)."""
        return await self.commit(self.prepare(records))

    def prepare(
        self, records: Sequence[LogRecord], floor: Mapping[int, int] | None = None, refused: str | None = None
    ) -> Prepared:
        """The CPU half of a batch, outside any transaction (`candleflow.engine.prepare`).

        `floor` drops records below a partition's offset (those the ledger shows absorbed);
        `commit` calls back with it in the rare batch that holds a re-delivery. `refused`
        rejects every record with that reason. Whatever preparing raises (no record
        should make it, but then none may stop the engine) is kept in the result and
        raised by `commit`, where the runner isolates the record that caused it.
        """
        try:
            return prepare(
                records,
                topic=self.topic,
                future_tolerance_s=self.settings.future_tolerance,
                floor=floor,
                refused=refused,
            )
        except Exception as exc:
            return Prepared(records=records, error=exc)

    async def commit(self, prepared: Prepared) -> BatchResult:
        """The database half of a batch: one transaction, guarded by the ledger."""
        if prepared.error is not None:
            raise prepared.error
        partitions = sorted(prepared.lowest)
        result = BatchResult()
        async with self.pool.transaction() as conn:
            locked = await store.lock_ledger(conn, self.consumer, self.topic, partitions)
            ledger = {partition: next_offset for partition, (next_offset, _) in locked.items()}
            for partition in partitions:
                if self.written.get(partition) != locked[partition]:
                    self.tails.drop_partition(partition)
            if any(lowest < ledger[p] for p, lowest in prepared.lowest.items()):
                prepared = self.prepare(prepared.records, floor=ledger, refused=prepared.refused)
                if prepared.error is not None:
                    raise prepared.error
            self._warn_on_gaps(prepared.first, ledger)
            if prepared.rejects:
                await dead_letters.record(conn, self.consumer, self.topic, prepared.rejects)
            result.redelivered = prepared.skipped
            result.rejected = len(prepared.rejects)
            result.absorbed = prepared.absorbed
            next_offsets = {p: max(ledger[p], prepared.next_offsets.get(p, 0)) for p in partitions}
            if prepared.deltas:
                result.bars = await store.absorb(
                    conn, prepared.deltas, prepared.seen, self.consumer, self.topic, next_offsets
                )
                await self._recompute(conn, result.bars, prepared.partition_of, result)
                result.late = sum(
                    prepared.deltas[key].trades
                    for key in result.corrections
                    if key[1] == "1" and key in prepared.deltas
                )
            else:
                await store.advance_ledger(conn, self.consumer, self.topic, next_offsets)
            result.next_offsets = next_offsets
        for partition, next_offset in next_offsets.items():
            self.written[partition] = (next_offset, locked[partition][1])
        return result

    def _warn_on_gaps(self, first: Mapping[int, int], ledger: Mapping[int, int]) -> None:
        for partition, offset in first.items():
            if offset > ledger[partition] > 0:
                log.warning(
                    "ticks %s[%d]: offsets %d..%d never reached the engine (retention or a "
                    "compacted topic?); continuing from %d",
                    self.topic,
                    partition,
                    ledger[partition],
                    offset - 1,
                    offset,
                )

    async def _recompute(
        self,
        conn: Any,
        stored: Sequence[StoredBar],
        partition_of: Mapping[str, int],
        result: BatchResult,
    ) -> None:
        """Every changed series' functions from its earliest changed bar (`store.series`),
        from the tail cache where it can tell, else from the database."""
        changed: dict[SeriesKey, dict[int, FunctionBar]] = defaultdict(dict)
        for bar in stored:
            changed[(bar.symbol, bar.resolution)][bar.bucket] = bar.function_bar()
        inputs: dict[SeriesKey, SeriesInput] = {}
        misses: list[tuple[SeriesKey, int]] = []
        for key, bars in changed.items():
            cached = self._from_cache(key, bars)
            if cached is None:
                misses.append((key, min(bars)))
            else:
                inputs[key] = cached
        if misses:
            for loaded in await series.load(conn, self.functions, misses):
                inputs[loaded.key] = loaded
        runs = [(item, compute(self.functions, item)) for item in inputs.values()]
        await series.write(conn, runs)
        for item, computed in runs:
            report_failures(item.key, computed.failures, self.status)
            self._remember(item, computed, partition_of[item.key[0]])
            buckets = changed[item.key]
            unchanged_after = max((b.bucket for b in item.bars[item.start :] if b.bucket not in buckets), default=None)
            if unchanged_after is not None:
                result.corrections.update(
                    (item.key[0], item.key[1], bucket) for bucket in buckets if bucket < unchanged_after
                )

    def _from_cache(self, key: SeriesKey, changed: Mapping[int, FunctionBar]) -> SeriesInput | None:
        tail = self.tails.get(key)
        if tail is None:
            return None
        since = min(changed)
        split = tail.split(since, self.functions.needed)
        if split is None:
            return None
        prefix, seeds, index = split
        if seeds is not None and missing_seeds(self.functions, seeds):
            return None
        bars = {b.bucket: b for b in tail.bars[index:]}
        bars.update(changed)
        return SeriesInput(key, since, prefix + [bars[b] for b in sorted(bars)], len(prefix), seeds)

    def _remember(self, item: SeriesInput, computed: Computed, partition: int) -> None:
        before: list[BarOutputs] = [None] * item.start
        if item.seeds is not None:
            before[-1] = dict(item.seeds)
        outputs: list[BarOutputs] = [*before, *computed.outputs]
        self.tails.put(item.key, partition, item.bars, outputs, item.seeds is None)

    def updates(self, result: BatchResult, committed_at: float | None = None) -> list[BarUpdate]:
        """The `bars.updates` of a committed batch, oldest bar first per series."""
        return [
            bar.update(
                correction=(bar.symbol, bar.resolution, bar.bucket) in result.corrections, committed_at=committed_at
            )
            for bar in sorted(result.bars, key=lambda b: (b.symbol, b.resolution, b.bucket))
        ]

    async def republish_current(self) -> int:
        """Publish the current bar of every series of the most recently active symbols.

        Run when a worker starts: updates lost to a crash between commit and publish
        reach every hub now instead of with the series' next tick. Harmless when
        nothing was lost (a hub passes an unchanged bar on; a chart redraws it).
        """
        bars = await store.latest_bars(self.pool, SUPPORTED_CODES, REPUBLISH_SYMBOLS)
        updates = [dataclasses.replace(bar, republished=True) for bar in bars]
        await self.sink.bar_updates(updates)
        return len(updates)
