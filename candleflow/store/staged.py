"""The replay's statements: the `rebuild_*` staging tables (sql/005_rebuild.sql), filled
with COPY under a lock that allows one replay per database, and the reads and the swap
against the live tables (which symbols have tick bars, what a rebuild keeps, and the
statements that replace the live rows of the rebuilt symbols with the staged ones,
inside the swap's one transaction)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter

from candleflow.domain.bars import BAR_FIELDS, Bar, BarKey
from candleflow.store.connection import Connection, Row
from candleflow.store.series import FUNCTION_BAR
from candleflow.store.sql import BAR_COLUMNS, TICKS, epoch_ms, ms

#: A row of `rebuild_indicators`: symbol, resolution, kind, period, bucket ms, value
StagedValue = tuple[str, str, str, int, int, float]
#: A row of `rebuild_marks`: symbol, resolution, bucket ms, signal, kind, label, text, tone, price
StagedMark = tuple[str, str, int, str, str, str, str, str, float]
INDICATOR_COLUMNS = ("symbol", "resolution", "kind", "period", "bucket", "value")
MARK_COLUMNS = ("symbol", "resolution", "bucket", "signal", "kind", "label", "text", "tone", "price")
#: Rows per COPY: bounds the memory of the row tuples built for one call.
CHUNK = 100_000
#: Session-level advisory lock: one replay at a time per database (they share staging).
LOCK_KEY = 0x7265627569  # "rebui"


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
SELECT symbol, resolution, {epoch_ms("bucket")} AS bucket, {FUNCTION_BAR} FROM bars
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


async def kept_bars(conn: Connection, symbols: Sequence[str], since: int) -> list[Row]:
    """The REST bars of `symbols` from `since` (ms) on: a rebuild keeps them, the log does not hold them."""
    return list(await conn.fetch(KEPT_BARS, list(symbols), since))


async def series_before(conn: Connection, symbols: Sequence[str], since: int) -> list[Row]:
    """The (symbol, resolution) series of `symbols` that have bars before `since` (ms)."""
    return list(await conn.fetch(SERIES_BEFORE, list(symbols), since))


async def try_lock(conn: Connection) -> bool:
    """Take the replay lock for this session; False when another replay holds it."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY))


async def truncate(conn: Connection) -> None:
    await conn.execute("TRUNCATE rebuild_bars, rebuild_indicators, rebuild_marks")


async def copy_bars(conn: Connection, bars: Mapping[BarKey, Bar]) -> int:
    """COPY the rebuilt bars into `rebuild_bars`; returns how many."""
    values = attrgetter(*BAR_FIELDS)
    rows = [(*key, *values(bar)) for key, bar in bars.items()]
    for start in range(0, len(rows), CHUNK):
        await conn.copy_records_to_table("rebuild_bars", records=rows[start : start + CHUNK], columns=BAR_COLUMNS)
    return len(rows)


class IndicatorCopier:
    """Buffers indicator and mark rows and COPYs them into staging in chunks."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.values: list[StagedValue] = []
        self.marks: list[StagedMark] = []
        self.written = 0

    async def add(self, values: Iterable[StagedValue], marks: Iterable[StagedMark]) -> None:
        self.values.extend(values)
        self.marks.extend(marks)
        if len(self.values) >= CHUNK:
            await self.flush()

    async def flush(self) -> None:
        if self.values:
            await self.conn.copy_records_to_table("rebuild_indicators", records=self.values, columns=INDICATOR_COLUMNS)
            self.written += len(self.values)
            self.values = []
        if self.marks:
            await self.conn.copy_records_to_table("rebuild_marks", records=self.marks, columns=MARK_COLUMNS)
            self.marks = []
