"""One `candleflow replay` run, start to finish (see the package docstring for the parts).

Safe to interrupt at any point: until the swap commits, the run only writes the
`rebuild_*` staging tables, which the next run truncates; the swap is one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

from candleflow.core.progress import Progress
from candleflow.core.settings import Settings
from candleflow.domain.fold import TickFolder
from candleflow.domain.instants import iso
from candleflow.functions.registry import from_settings
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.log_reader import LogReader, Span
from candleflow.maintenance.rebuild import series as rebuild_series
from candleflow.maintenance.rebuild.exceptions import RebuildError
from candleflow.maintenance.rebuild.series import bars_by_series, indicator_rows
from candleflow.maintenance.rebuild.swap import SwapPlan, SwapResult, swap
from candleflow.maintenance.rebuild.window import DEFAULT_LATENESS_MS, cutoff, targets
from candleflow.store import bars as store
from candleflow.store import staged
from candleflow.store.connection import Connection, connect

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Options:
    """`since`: `--from` in ms (None: earliest); `until`: `--to` in ms; `symbols`: `--symbols`."""

    since: int | None = None
    until: int | None = None
    symbols: frozenset[str] | None = None
    lateness_ms: int = DEFAULT_LATENESS_MS


@dataclass
class Summary:
    records: int = 0  # read by the fast path
    ticks: int = 0  # folded into bars
    invalid: int = 0
    bars: int = 0
    indicators: int = 0
    read_seconds: float = 0.0
    seconds: float = 0.0
    cutoff: int = 0
    swap: SwapResult = field(default_factory=SwapResult)

    @property
    def rate(self) -> float:
        """Records per second of the read + aggregate phase."""
        return self.records / self.read_seconds if self.read_seconds else 0.0

    def render(self) -> str:
        scope = f"buckets from {iso(self.cutoff)}" if self.cutoff else "all buckets"
        return (
            f"replay: {self.records:,} records read ({self.ticks:,} ticks kept, {self.invalid:,} invalid skipped) "
            f"in {self.read_seconds:.1f} s ({self.rate:,.0f} ticks/s); {self.bars:,} bars and "
            f"{self.indicators:,} indicator values rebuilt ({scope}); {self.swap.caught_up:,} records caught up "
            f"in the swap; {self.seconds:.1f} s in all\n"
        )


async def _starts(
    reader: LogReader, options: Options, begins: Mapping[int, int], ends: Mapping[int, int]
) -> dict[int, int]:
    """First offset to read per partition; refuses when retention deleted what is needed."""
    if options.since is None:
        trimmed = sorted(p for p, begin in begins.items() if begin > 0)
        if trimmed:
            raise RebuildError(
                f"partitions {trimmed} no longer start at offset 0 (retention deleted their oldest ticks): a "
                "rebuild from earliest would lose the bars built from them; give --from a time whose month "
                "the log still covers (see the README, 'Replay and retention')"
            )
        return dict(begins)
    at = await reader.offsets_at(cutoff(options.since) - options.lateness_ms)
    starts = {p: ends[p] if offset is None else offset for p, offset in at.items()}
    trimmed = sorted(p for p, start in starts.items() if begins[p] > 0 and start == begins[p])
    if trimmed:
        needed = iso(cutoff(options.since) - options.lateness_ms)
        raise RebuildError(
            f"partitions {trimmed}: retention deleted ticks appended after {needed} "
            "(the cutoff minus --lateness): choose a later --from"
        )
    return starts


async def _lock(conn: Connection, wait_s: float = 15.0) -> None:
    """One replay at a time. Waits a little: the session of a replay killed a moment ago
    may still hold the lock until PostgreSQL notices it is gone."""
    deadline = time.monotonic() + wait_s
    while not await staged.try_lock(conn):
        if time.monotonic() > deadline:
            raise RebuildError("another `candleflow replay` runs against this database: wait for it to finish")
        await asyncio.sleep(0.5)


async def replay(settings: Settings, options: Options, err: TextIO) -> Summary:
    started = time.perf_counter()
    summary = Summary(cutoff=0 if options.since is None else cutoff(options.since))
    conn = await connect(settings.database_url)
    try:
        await _lock(conn)
        async with LogReader(KafkaConfig.from_settings(settings), settings.ticks_topic) as reader:
            begins, ends = await reader.bounds()
            ledger = await store.read_ledger(conn, settings.app_id, settings.ticks_topic, reader.partitions)
            stop = targets(ledger, ends)
            if options.until is not None:
                if ledger:
                    raise RebuildError(
                        "--to restores the state at a past time and needs a database without a live engine's "
                        f"ledger ({settings.app_id} has absorbed ticks here): stop the workers and replay into "
                        "an empty database, or leave out --to"
                    )
                at = await reader.offsets_at(options.until)
                stop = {p: ends[p] if offset is None else offset for p, offset in at.items()}
            starts = await _starts(reader, options, begins, ends)
            spans = {p: Span(starts[p], stop[p]) for p in reader.partitions}
            await staged.truncate(conn)

            builder = TickFolder(
                symbols=options.symbols,
                since=None if options.since is None else summary.cutoff,
                future_tolerance_s=settings.future_tolerance,
            )
            total = sum(span.size for span in spans.values())
            progress = Progress.for_terminal(total, unit="rec", stream=err)
            read_started = time.perf_counter()
            summary.records = await reader.read(
                spans,
                lambda _p, records: builder.add(records),
                None if progress is None else progress.advance_to,
            )
            bars = builder.finish()
            if summary.cutoff:  # a month straddling the cutoff: kept as it is (see window.py)
                bars = {key: bar for key, bar in bars.items() if key[2] >= summary.cutoff}
            summary.read_seconds = time.perf_counter() - read_started
            if progress is not None:
                progress.finish()
            summary.ticks, summary.invalid = builder.kept, builder.invalid

            rebuilt = (
                set(options.symbols)
                if options.symbols is not None
                else ({key[0] for key in bars} | await staged.tick_symbols(conn, summary.cutoff))
            )
            summary.bars = await staged.copy_bars(conn, bars)
            series = bars_by_series(bars)
            del bars
            functions = from_settings(settings)
            bases = await rebuild_series.bases(conn, sorted(rebuilt), summary.cutoff, functions)
            copier = staged.IndicatorCopier(conn)
            for values, marks in indicator_rows(series, bases, functions, summary.cutoff):
                await copier.add(values, marks)
            await copier.flush()
            summary.indicators = copier.written

            plan = SwapPlan(
                consumer=settings.app_id,
                topic=settings.ticks_topic,
                partitions=reader.partitions,
                targets=stop,
                symbols=frozenset(rebuilt),
                only=options.symbols,
                cutoff=summary.cutoff,
                seen=builder.seen(),
                functions=functions,
                future_tolerance_s=settings.future_tolerance,
            )

            async def read_late(late_spans: Mapping[int, Span], late: TickFolder) -> int:
                return await reader.read(late_spans, lambda _p, records: late.add(records))

            summary.swap = await swap(conn, plan, read_late)
        await staged.truncate(conn)
    finally:
        await conn.close()
    summary.seconds = time.perf_counter() - started
    return summary
