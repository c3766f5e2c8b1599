"""The engine's writes: one statement per table per batch, inside one transaction.

Bars are merged, not overwritten: the batch's deltas go in as unnest'ed arrays and the
upsert folds each into the stored bar with the same rules as `Bar.merge`, returning the
merged rows. The ledger (`source_offsets`) is locked first and advanced in the same
transaction, which is what makes re-delivered ticks harmless.

The engine's batch sends the bars merge, the symbols upsert and the ledger advance as
one statement (`ABSORB`: the latter two as data-modifying CTEs of the merge; they touch
other tables, so the order in which PostgreSQL runs them does not matter, and the
ledger row is locked already): each round trip to the database is latency on the live
path, paid once per batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from candleflow.domain.bars import Bar, BarKey
from candleflow.domain.pricescale import BUCKETS, KEEP, SHARE
from candleflow.domain.symbols import SymbolSeen
from candleflow.domain.updates import BarUpdate
from candleflow.functions.api import FunctionBar
from candleflow.store.connection import Connection, Statements
from candleflow.store.sql import STORED_IS_REST, TICKS, epoch_ms, ms, shifted

MERGE_BARS = f"""
INSERT INTO bars AS b (symbol, resolution, bucket, open, high, low, close, volume, trades,
                       open_ts, open_seq, close_ts, close_seq, source)
SELECT d.symbol, d.resolution, {ms("d.bucket")}, d.open, d.high, d.low, d.close,
       d.volume, d.trades, d.open_ts, d.open_seq, d.close_ts, d.close_seq, $14
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[],
            $7::float8[], $8::numeric[], $9::bigint[], $10::bigint[], $11::bigint[],
            $12::bigint[], $13::bigint[])
     AS d(symbol, resolution, bucket, open, high, low, close, volume, trades,
          open_ts, open_seq, close_ts, close_seq)
ON CONFLICT (symbol, resolution, bucket) DO UPDATE SET
    open = CASE WHEN {STORED_IS_REST} OR (excluded.open_ts, excluded.open_seq) < (b.open_ts, b.open_seq)
                THEN excluded.open ELSE b.open END,
    open_ts = CASE WHEN {STORED_IS_REST} OR (excluded.open_ts, excluded.open_seq) < (b.open_ts, b.open_seq)
                   THEN excluded.open_ts ELSE b.open_ts END,
    open_seq = CASE WHEN {STORED_IS_REST} OR (excluded.open_ts, excluded.open_seq) < (b.open_ts, b.open_seq)
                    THEN excluded.open_seq ELSE b.open_seq END,
    close = CASE WHEN {STORED_IS_REST} OR (excluded.close_ts, excluded.close_seq) > (b.close_ts, b.close_seq)
                 THEN excluded.close ELSE b.close END,
    close_ts = CASE WHEN {STORED_IS_REST} OR (excluded.close_ts, excluded.close_seq) > (b.close_ts, b.close_seq)
                    THEN excluded.close_ts ELSE b.close_ts END,
    close_seq = CASE WHEN {STORED_IS_REST} OR (excluded.close_ts, excluded.close_seq) > (b.close_ts, b.close_seq)
                     THEN excluded.close_seq ELSE b.close_seq END,
    high = CASE WHEN {STORED_IS_REST} THEN excluded.high ELSE greatest(b.high, excluded.high) END,
    low = CASE WHEN {STORED_IS_REST} THEN excluded.low ELSE least(b.low, excluded.low) END,
    volume = CASE WHEN {STORED_IS_REST} THEN excluded.volume ELSE b.volume + excluded.volume END,
    trades = CASE WHEN {STORED_IS_REST} THEN excluded.trades ELSE b.trades + excluded.trades END,
    source = excluded.source
RETURNING symbol, resolution, {epoch_ms("bucket")} AS bucket, open, high, low, close,
          volume, trades
"""

#: The symbols a batch saw: exchange, base and quote split off, the decimal-places
#: histogram merged and `price_decimals` derived from it, unless a tick size sets it
#: (`candleflow.domain.pricescale`, run in SQL by the functions of sql/007_engine_safety.sql).
#: $2 holds every symbol's histogram, `BUCKETS` counts each, one after another.
UPSERT_SYMBOLS = f"""
INSERT INTO symbols AS y (symbol, exchange, base, quote, price_decimals, decimal_counts,
                          tick_size, tick_decimals, tick_minmov, first_tick, last_tick)
SELECT s.symbol, split_part(s.symbol, ':', 1),
       split_part(split_part(s.symbol, ':', 2), '/', 1),
       split_part(split_part(s.symbol, ':', 2), '/', 2),
       coalesce(s.tick_decimals, candleflow_decimals(s.counts, {SHARE})), s.counts,
       s.tick_size, s.tick_decimals, s.tick_minmov, {ms("s.first")}, {ms("s.last")}
FROM (
    SELECT u.symbol, ($2::bigint[])[(u.i - 1) * {BUCKETS} + 1 : u.i * {BUCKETS}] AS counts,
           u.first, u.last, u.tick_size, u.tick_decimals, u.tick_minmov
    FROM unnest($1::text[], $3::bigint[], $4::bigint[], $5::text[], $6::int[], $7::int[])
         WITH ORDINALITY AS u(symbol, first, last, tick_size, tick_decimals, tick_minmov, i)
) AS s
ON CONFLICT (symbol) DO UPDATE SET
    decimal_counts = candleflow_add_counts(y.decimal_counts, excluded.decimal_counts, {KEEP}),
    tick_size = coalesce(excluded.tick_size, y.tick_size),
    tick_decimals = coalesce(excluded.tick_decimals, y.tick_decimals),
    tick_minmov = coalesce(excluded.tick_minmov, y.tick_minmov),
    price_decimals = coalesce(
        excluded.tick_decimals,
        y.tick_decimals,
        candleflow_decimals(candleflow_add_counts(y.decimal_counts, excluded.decimal_counts, {KEEP}), {SHARE})
    ),
    first_tick = least(y.first_tick, excluded.first_tick),
    last_tick = greatest(y.last_tick, excluded.last_tick)
"""

ENSURE_LEDGER = """
INSERT INTO source_offsets (consumer, topic, partition, next_offset)
SELECT $1, $2, p, 0 FROM unnest($3::int[]) AS p
ON CONFLICT DO NOTHING
"""

LOCK_LEDGER = """
SELECT partition, next_offset, epoch FROM source_offsets
WHERE consumer = $1 AND topic = $2 AND partition = ANY($3::int[])
ORDER BY partition
FOR UPDATE
"""

ADVANCE_LEDGER = """
UPDATE source_offsets AS o SET next_offset = n.next_offset, updated_at = now()
FROM unnest($3::int[], $4::bigint[]) AS n(partition, next_offset)
WHERE o.consumer = $1 AND o.topic = $2 AND o.partition = n.partition
"""


#: MERGE_BARS ($1-$14), UPSERT_SYMBOLS ($15-$21) and ADVANCE_LEDGER ($22-$25) in one statement.
ABSORB = f"""
WITH symbols_seen AS ({shifted(UPSERT_SYMBOLS, 14)}),
     ledger AS ({shifted(ADVANCE_LEDGER, 21)})
{MERGE_BARS}"""


@dataclass(frozen=True, slots=True)
class StoredBar:
    """A bar as the engine's merge left it in `bars` (the upsert returns them)."""

    symbol: str
    resolution: str
    bucket: int  # ms
    open: float
    high: float
    low: float
    close: float
    volume: Decimal
    trades: int

    def update(self, *, correction: bool = False, committed_at: float | None = None) -> BarUpdate:
        """This bar as `bars.updates` carries it."""
        return BarUpdate(
            symbol=self.symbol,
            resolution=self.resolution,
            time=self.bucket // 1000,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=float(self.volume),
            trades=self.trades,
            correction=correction,
            committed_at=committed_at,
        )

    def function_bar(self) -> FunctionBar:
        """This bar as the functions see it."""
        return FunctionBar.of(self.bucket, self)


async def lock_ledger(
    conn: Connection, consumer: str, topic: str, partitions: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """Lock and read (next expected offset, epoch) of each partition (creating rows at 0,
    the first time only: one round trip once they exist)."""
    rows = await conn.fetch(LOCK_LEDGER, consumer, topic, list(partitions))
    if len(rows) < len(partitions):
        await conn.execute(ENSURE_LEDGER, consumer, topic, list(partitions))
        rows = await conn.fetch(LOCK_LEDGER, consumer, topic, list(partitions))
    return {row["partition"]: (row["next_offset"], row["epoch"]) for row in rows}


READ_LEDGER = """
SELECT partition, next_offset FROM source_offsets
WHERE consumer = $1 AND topic = $2 AND partition = ANY($3::int[])
"""


async def read_ledger(conn: Statements, consumer: str, topic: str, partitions: Sequence[int]) -> dict[int, int]:
    """The next expected offset of each partition that has a ledger row (no lock)."""
    rows = await conn.fetch(READ_LEDGER, consumer, topic, list(partitions))
    return {row["partition"]: row["next_offset"] for row in rows}


BUMP_EPOCH = "UPDATE source_offsets SET epoch = epoch + 1"


async def bump_epoch(conn: Connection) -> None:
    """Tell every engine that bars changed behind its back (see sql/004_ledger_epoch.sql)."""
    await conn.execute(BUMP_EPOCH)


async def advance_ledger(conn: Connection, consumer: str, topic: str, next_offsets: Mapping[int, int]) -> None:
    await conn.execute(ADVANCE_LEDGER, consumer, topic, *_ledger_args(next_offsets))


def _ledger_args(next_offsets: Mapping[int, int]) -> tuple[list[int], list[int]]:
    partitions = list(next_offsets)
    return partitions, [next_offsets[p] for p in partitions]


async def merge_bars(conn: Connection, deltas: Mapping[BarKey, Bar], source: str = TICKS) -> list[StoredBar]:
    """Fold deltas into the stored bars; return the merged bars."""
    rows = await conn.fetch(MERGE_BARS, *_merge_args(deltas, source))
    return [StoredBar(*row) for row in rows]


async def absorb(
    conn: Connection,
    deltas: Mapping[BarKey, Bar],
    seen: Mapping[str, SymbolSeen],
    consumer: str,
    topic: str,
    next_offsets: Mapping[int, int],
) -> list[StoredBar]:
    """`merge_bars`, `upsert_symbols` and `advance_ledger` in one round trip (`ABSORB`)."""
    rows = await conn.fetch(
        ABSORB,
        *_merge_args(deltas, TICKS),
        *_symbols_args(seen),
        consumer,
        topic,
        *_ledger_args(next_offsets),
    )
    return [StoredBar(*row) for row in rows]


def _merge_args(deltas: Mapping[BarKey, Bar], source: str) -> tuple[Any, ...]:
    keys = sorted(deltas)
    bars = [deltas[k] for k in keys]
    return (
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
        [b.open for b in bars],
        [b.high for b in bars],
        [b.low for b in bars],
        [b.close for b in bars],
        [b.volume for b in bars],
        [b.trades for b in bars],
        [b.open_ts for b in bars],
        [b.open_seq for b in bars],
        [b.close_ts for b in bars],
        [b.close_seq for b in bars],
        source,
    )


async def upsert_symbols(conn: Connection, seen: Mapping[str, SymbolSeen]) -> None:
    await conn.execute(UPSERT_SYMBOLS, *_symbols_args(seen))


def _symbols_args(seen: Mapping[str, SymbolSeen]) -> tuple[Any, ...]:
    names = sorted(seen)
    counts: list[int] = []
    for name in names:
        histogram = seen[name].histogram()
        counts.extend(histogram[:BUCKETS] + [0] * (BUCKETS - len(histogram)))
    ticks = [seen[n].tick for n in names]
    return (
        names,
        counts,
        [seen[n].first for n in names],
        [seen[n].last for n in names],
        [None if t is None else t.text for t in ticks],
        [None if t is None else t.decimals for t in ticks],
        [None if t is None else t.minmov for t in ticks],
    )


async def latest_bars(conn: Statements, resolutions: Sequence[str], symbols: int) -> list[BarUpdate]:
    """The newest bar of every resolution of the `symbols` most recently ticked symbols."""
    rows = await conn.fetch(
        """
        SELECT s.symbol, r.resolution, extract(epoch FROM b.bucket)::int8 AS time,
               b.open, b.high, b.low, b.close, b.volume::float8 AS volume, b.trades
        FROM (SELECT symbol FROM symbols ORDER BY last_tick DESC LIMIT $2) AS s
        CROSS JOIN unnest($1::text[]) AS r(resolution)
        CROSS JOIN LATERAL (
            SELECT bucket, open, high, low, close, volume, trades FROM bars
            WHERE symbol = s.symbol AND resolution = r.resolution
            ORDER BY bucket DESC LIMIT 1
        ) AS b
        """,
        list(resolutions),
        symbols,
    )
    return [BarUpdate.from_fields(row) for row in rows]
