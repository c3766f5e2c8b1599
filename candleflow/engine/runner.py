"""`EngineRunner`: gets every batch into the database, whatever it holds, then publishes it.

A failed transaction rolls back completely, so trying a batch again, or a part of it, is
always safe. What the runner does next depends on the failure
(`candleflow.engine.failures`):

* an **outage** (database or broker down) is waited out: the same batch again, with
  backoff up to `max_backoff`, for as long as it lasts; `EngineStatus.outage` says what
  fails meanwhile, and readiness reports the stall it causes;
* a **refusal** (or a fault that repeats) means some records of the batch are refused:
  the batch is split in two and each half stored the same way, first half first (a
  partition's records stay in order), until the refused records stand alone; each of
  those is then dead-lettered with the store's reason (its ledger advance and dead
  letter committed together), and every other record is stored. A batch of n records
  with k refused ones costs about 2·k·log2(n) transactions, once.

Only cancellation (worker shutdown) abandons a batch; its records stay unacknowledged
and Kafka delivers them again, which the ledger makes harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence

from candleflow.core import metrics
from candleflow.engine.bar_engine import BarEngine, BatchResult
from candleflow.engine.failures import FAULT_RETRIES, Failure, classify, describe
from candleflow.engine.prepare import Prepared
from candleflow.kafka.log_reader import LogRecord

log = logging.getLogger(__name__)

READ_TO_COMMIT = metrics.LIVE_STAGE_SECONDS.labels("read_to_commit")
#: First wait after a failed commit; it doubles up to `max_backoff`.
FIRST_BACKOFF_S = 0.2


class EngineRunner:
    """Stores prepared batches through `engine` (see the module docstring); `rejected` is
    called after a batch that dead-lettered records (the outbox publishes them)."""

    def __init__(
        self, engine: BarEngine, max_backoff: float = 10.0, rejected: Callable[[], None] | None = None
    ) -> None:
        self.engine = engine
        self.status = engine.status
        self.max_backoff = max_backoff
        self.rejected = rejected

    async def run(self, records: Sequence[LogRecord]) -> BatchResult:
        return await self.run_prepared(self.engine.prepare(records))

    async def run_prepared(self, prepared: Prepared) -> BatchResult:
        started = time.perf_counter()
        result = await self._store(prepared)
        committed_at = time.time()
        self._report(result, len(prepared.records), time.perf_counter() - started)
        if prepared.read_at:
            READ_TO_COMMIT.observe(max(0.0, committed_at - prepared.read_at))
        if result.rejected and self.rejected is not None:
            self.rejected()
        if result.bars:
            await self._publish(result, committed_at)
        return result

    async def _store(self, prepared: Prepared) -> BatchResult:
        outcome = await self._attempts(prepared, isolate=True)
        if isinstance(outcome, BatchResult):
            return outcome
        records = prepared.records
        if len(records) > 1:
            metrics.BATCH_SPLITS.inc()
            middle = len(records) // 2
            first = await self._store(self.engine.prepare(records[:middle]))
            return merged(first, await self._store(self.engine.prepare(records[middle:])))
        record = records[0]
        log.warning(
            "record %s[%d]@%d refused by the store (%s): dead-lettered",
            self.engine.topic,
            record.partition,
            record.offset,
            outcome,
        )
        result = await self._attempts(self.engine.prepare(records, refused=f"the store refused it: {outcome}"))
        assert isinstance(result, BatchResult)
        self.status.store_refused += result.rejected
        metrics.STORE_REFUSED.inc(result.rejected)
        return result

    async def _attempts(self, prepared: Prepared, isolate: bool = False) -> BatchResult | str:
        """Commit `prepared`, waiting out outages; with `isolate`, a refusal (or a fault
        that repeats) ends the attempts and is returned as its reason."""
        delay = FIRST_BACKOFF_S
        faults = 0
        while True:
            self.status.beat()
            try:
                result = await self.engine.commit(prepared)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                kind, reason = classify(exc), describe(exc)
                faults += kind is Failure.FAULT
                if isolate and (kind is Failure.REFUSAL or faults >= FAULT_RETRIES):
                    log.warning("batch of %d records refused by the store (%s)", len(prepared.records), reason)
                    return reason
                self._failed(kind, reason)
                log.warning(
                    "batch of %d ticks not stored (%s); retrying in %.1f s", len(prepared.records), reason, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            if self.status.outage is not None:
                log.warning("engine commits again after %.0f s", time.time() - (self.status.outage_since or 0.0))
            self.status.outage = self.status.outage_since = None
            metrics.ENGINE_OUTAGE.set(0)
            return result

    def _failed(self, kind: Failure, reason: str) -> None:
        metrics.WRITE_RETRIES.inc()
        self.status.last_error = reason
        if kind is Failure.OUTAGE:
            if self.status.outage is None:
                self.status.outage_since = time.time()
            self.status.outage = reason
            metrics.ENGINE_OUTAGE.set(1)

    def _report(self, result: BatchResult, size: int, seconds: float) -> None:
        metrics.BATCH_SIZE.observe(size)
        metrics.WRITE_SECONDS.observe(seconds)
        metrics.TICKS_PROCESSED.inc(result.absorbed)
        metrics.TICKS_DUPLICATE.inc(result.redelivered)
        metrics.TICKS_LATE.inc(result.late)
        if result.rejected:
            metrics.TICKS_REJECTED.labels("engine").inc(result.rejected)
        per_resolution: dict[str, int] = defaultdict(int)
        for bar in result.bars:
            per_resolution[bar.resolution] += 1
        for resolution, count in per_resolution.items():
            metrics.BARS_WRITTEN.labels(resolution).inc(count)
        self.status.ticks_processed += result.absorbed
        self.status.last_batch_at = time.time()
        self.status.last_error = None

    async def _publish(self, result: BatchResult, committed_at: float) -> None:
        try:
            await self.engine.sink.bar_updates(self.engine.updates(result, committed_at))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The bars are committed; live clients catch up with the next update, on
            # reconnect, or when a worker starts (`republish_current`): not retried.
            log.warning("bar updates of a committed batch not published: %s", exc)


def merged(first: BatchResult, second: BatchResult) -> BatchResult:
    """One result for two parts of a batch stored one after the other (a bar both
    changed is as the second left it)."""
    bars = {(b.symbol, b.resolution, b.bucket): b for b in first.bars}
    bars.update({(b.symbol, b.resolution, b.bucket): b for b in second.bars})
    offsets = dict(first.next_offsets)
    for partition, offset in second.next_offsets.items():
        offsets[partition] = max(offset, offsets.get(partition, offset))
    return BatchResult(
        absorbed=first.absorbed + second.absorbed,
        redelivered=first.redelivered + second.redelivered,
        rejected=first.rejected + second.rejected,
        late=first.late + second.late,
        bars=list(bars.values()),
        corrections=first.corrections | second.corrections,
        next_offsets=offsets,
    )
