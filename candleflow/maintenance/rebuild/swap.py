"""The swap: the rebuilt state replaces the live rows in ONE transaction.

1. Lock the live engine's ledger rows (every partition, in partition order — the order
   the engine locks them in, so no deadlock). The engine's next batch waits here.
2. Read the ledger again (L1). Ticks the engine absorbed since the snapshot
   (`[target, L1)`) are read from the log now: the catch-up.
3. Delete the live rows of the rebuilt symbols from the cutoff on (bars built from
   ticks only: REST backfill bars are not in the log), insert the staged rows (a tick
   bar replaces a REST bar of the same bucket), then fold the catch-up in exactly as an
   engine batch would: merge its bar deltas, recompute the moving averages and marks of
   the series it touched from the database (the engine's cache-miss path).
4. Advance the ledger where the rebuild went further than the engine (a partition no
   engine had absorbed), bump the epoch (engines drop their cached series tails), commit.

Readers see the old rows until the commit and the new ones after it: never a
half-rebuilt bar. An error anywhere rolls everything back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from candleflow.domain.bars import Bar, BarKey, SeriesKey
from candleflow.domain.fold import TickFolder
from candleflow.domain.symbols import SymbolSeen
from candleflow.functions.failures import report_failures
from candleflow.functions.registry import FunctionSet
from candleflow.kafka.log_reader import Span
from candleflow.maintenance.rebuild.window import catch_up, final_offsets
from candleflow.store import bars as store
from candleflow.store import series, staged
from candleflow.store.connection import Connection

ReadSpans = Callable[[Mapping[int, Span], TickFolder], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class SwapPlan:
    consumer: str
    topic: str
    partitions: Sequence[int]
    targets: Mapping[int, int]  # where the fast path stopped, per partition
    symbols: frozenset[str]  # rebuilt symbols (their rows from `cutoff` on are replaced)
    only: frozenset[str] | None  # --symbols (None: every symbol)
    cutoff: int  # bucket cutoff in ms (0: everything)
    seen: Mapping[str, SymbolSeen]  # what `symbols` learns from the rebuilt ticks
    functions: FunctionSet
    future_tolerance_s: float


@dataclass
class SwapResult:
    locked: dict[int, int] = field(default_factory=dict)  # L1
    final: dict[int, int] = field(default_factory=dict)  # ledger after the swap
    caught_up: int = 0  # catch-up records read
    caught_up_ticks: int = 0


async def swap(conn: Connection, plan: SwapPlan, read: ReadSpans) -> SwapResult:
    """Run the swap transaction (see the module docstring)."""
    result = SwapResult()
    async with conn.transaction():
        locked = await store.lock_ledger(conn, plan.consumer, plan.topic, plan.partitions)
        result.locked = {p: offset for p, (offset, _) in locked.items()}
        late = TickFolder(symbols=plan.only, future_tolerance_s=plan.future_tolerance_s)
        spans = catch_up(plan.targets, result.locked)
        if spans:
            result.caught_up = await read(spans, late)
        result.caught_up_ticks = late.kept
        deltas = late.finish()
        symbols = sorted(plan.symbols | {key[0] for key in deltas})
        await staged.replace_live_rows(conn, symbols, plan.cutoff)
        seen = dict(plan.seen)
        if deltas:
            # Buckets before the cutoff hold only ticks before it: the engine absorbed those
            # and the rebuild did not touch them; they only move the series' recompute start.
            newer = {key: bar for key, bar in deltas.items() if key[2] >= plan.cutoff}
            if newer:
                await store.merge_bars(conn, newer)
            await _indicators(conn, deltas, plan, symbols)
            for symbol, info in late.seen().items():
                if symbol in seen:
                    known = seen[symbol]
                    merged = SymbolSeen(known.decimals, known.first, known.last, known.counts, known.tick)
                    merged.widen(info)
                    seen[symbol] = merged
                else:
                    seen[symbol] = info
        if seen:
            await store.upsert_symbols(conn, seen)
        result.final = final_offsets(plan.targets, result.locked)
        await store.advance_ledger(conn, plan.consumer, plan.topic, result.final)
        await store.bump_epoch(conn)
    return result


async def _indicators(conn: Connection, deltas: Mapping[BarKey, Bar], plan: SwapPlan, symbols: Sequence[str]) -> None:
    """Recompute every series the catch-up touched from its earliest changed bar, from
    the database (which now holds the rebuilt rows), like the engine's cache-miss path.
    A symbol the rebuild did not stage (new since the snapshot) is recomputed from the
    cutoff, since its indicators from there on were just deleted."""
    since: dict[SeriesKey, int] = {}
    for symbol, resolution, bucket in deltas:
        key = (symbol, resolution)
        start = bucket if symbol in plan.symbols else min(bucket, plan.cutoff)
        since[key] = min(since.get(key, start), start)
    for item, computed in await series.recompute(conn, plan.functions, sorted(since.items())):
        report_failures(item.key, computed.failures)
