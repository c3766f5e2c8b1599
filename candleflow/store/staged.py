"""The replay's statements against the live tables: which symbols have tick bars, and
the swap that replaces the live rows of the rebuilt symbols with the staged ones
(`rebuild_*`, sql/005_rebuild.sql). Called inside the swap's one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from candleflow.store.series import BAR_COLUMNS
from candleflow.store.sql import TICKS, epoch_ms, ms

Connection = Any  # asyncpg.Connection: asyncpg ships no type information

TICK_SYMBOLS = f"SELECT DISTINCT symbol FROM bars WHERE source = '{TICKS}' AND bucket >= {ms('$1::bigint')}"

#: Only tick bars are deleted: REST backfill bars are not in the log. A staged bar then
#: replaces a REST bar of the same bucket (ticks win, `candleflow.store.sql`).
DELETE_BARS = f"""
DELETE FROM bars WHERE symbol = ANY($1::text[]) AND source = '{TICKS}' AND bucket >= {ms("$2::bigint")}
"""
DELETE_INDICATORS = f"DELETE FROM indicators WHERE symbol = ANY($1::text[]) AND bucket >= {ms('$2::bigint')}"
DELETE_MARKS = f"DELETE FROM marks WHERE symbol = ANY($1::text[]) AND bucket >= {ms('$2::bigint')}"

INSERT_BARS = f"""
INSERT INTO bars AS b (symbol, resolution, bucket, open, high, low, close, volume, trades,
                       open_ts, open_seq, close_ts, close_seq, source)
SELECT symbol, resolution, {ms("bucket")}, open, high, low, close, volume, trades,
       open_ts, open_seq, close_ts, close_seq, '{TICKS}'
FROM rebuild_bars
ON CONFLICT (symbol, resolution, bucket) DO UPDATE SET
    open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
    volume = excluded.volume, trades = excluded.trades, open_ts = excluded.open_ts,
    open_seq = excluded.open_seq, close_ts = excluded.close_ts, close_seq = excluded.close_seq,
    source = '{TICKS}'
"""
INSERT_INDICATORS = f"""
INSERT INTO indicators (symbol, resolution, kind, period, bucket, value)
SELECT symbol, resolution, kind, period, {ms("bucket")}, value FROM rebuild_indicators
"""
INSERT_MARKS = f"""
INSERT INTO marks (symbol, resolution, bucket, signal, kind, label, text, tone, price)
SELECT symbol, resolution, {ms("bucket")}, signal, kind, label, text, tone, price FROM rebuild_marks
"""

KEPT_BARS = f"""
SELECT symbol, resolution, {epoch_ms("bucket")} AS bucket, {BAR_COLUMNS} FROM bars
WHERE symbol = ANY($1::text[]) AND source <> '{TICKS}' AND bucket >= {ms("$2::bigint")}
"""

SERIES_BEFORE = f"""
SELECT DISTINCT symbol, resolution FROM bars
WHERE symbol = ANY($1::text[]) AND bucket < {ms("$2::bigint")}
"""


async def tick_symbols(conn: Connection, since: int) -> set[str]:
    """Symbols with bars built from ticks at or after `since` (ms)."""
    return {row["symbol"] for row in await conn.fetch(TICK_SYMBOLS, since)}


async def replace_live_rows(conn: Connection, symbols: Sequence[str], cutoff: int) -> None:
    """Delete the live tick bars, indicators and marks of `symbols` from `cutoff` (ms) on
    and insert the staged rows in their place."""
    for statement in (DELETE_BARS, DELETE_INDICATORS, DELETE_MARKS):
        await conn.execute(statement, list(symbols), cutoff)
    for statement in (INSERT_BARS, INSERT_INDICATORS, INSERT_MARKS):
        await conn.execute(statement)


async def kept_bars(conn: Connection, symbols: Sequence[str], since: int) -> list[Any]:
    """The REST bars of `symbols` from `since` (ms) on: a rebuild keeps them, the log does not hold them."""
    return list(await conn.fetch(KEPT_BARS, list(symbols), since))


async def series_before(conn: Connection, symbols: Sequence[str], since: int) -> list[Any]:
    """The (symbol, resolution) series of `symbols` that have bars before `since` (ms)."""
    return list(await conn.fetch(SERIES_BEFORE, list(symbols), since))
