"""The `rebuild_*` staging tables (sql/005_rebuild.sql): filled with COPY, swapped in
by `candleflow.rebuild.swap`, and the reads of what the rebuild keeps from the live
tables (`Base` of each series)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from candleflow.bars import Bar, BarKey, SeriesKey
from candleflow.indicators import recompute
from candleflow.rebuild.series import Base, IndicatorRow, MarkRow
from candleflow.store import bars as store
from candleflow.store.bars import Connection

BAR_COLUMNS = (
    "symbol",
    "resolution",
    "bucket",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "trades",
    "open_ts",
    "open_seq",
    "close_ts",
    "close_seq",
)
INDICATOR_COLUMNS = ("symbol", "resolution", "kind", "period", "bucket", "value")
MARK_COLUMNS = ("symbol", "resolution", "bucket", "kind", "fast", "slow", "price")
#: Rows per COPY: bounds the memory of the row tuples built for one call.
CHUNK = 100_000

#: Session-level advisory lock: one replay at a time per database (they share staging).
LOCK_KEY = 0x7265627569  # "rebui"


async def try_lock(conn: Connection) -> bool:
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY))


async def truncate(conn: Connection) -> None:
    await conn.execute("TRUNCATE rebuild_bars, rebuild_indicators, rebuild_marks")


async def copy_bars(conn: Connection, bars: Mapping[BarKey, Bar]) -> int:
    rows = [
        (
            k[0],
            k[1],
            k[2],
            b.open,
            b.high,
            b.low,
            b.close,
            b.volume,
            b.trades,
            b.open_ts,
            b.open_seq,
            b.close_ts,
            b.close_seq,
        )
        for k, b in bars.items()
    ]
    for start in range(0, len(rows), CHUNK):
        await conn.copy_records_to_table("rebuild_bars", records=rows[start : start + CHUNK], columns=BAR_COLUMNS)
    return len(rows)


class IndicatorCopier:
    """Buffers indicator and mark rows and COPYs them in chunks."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.values: list[IndicatorRow] = []
        self.marks: list[MarkRow] = []
        self.written = 0

    async def add(self, values: Iterable[IndicatorRow], marks: Iterable[MarkRow]) -> None:
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


_MS = "timestamptz 'epoch' + {} * interval '1 millisecond'"
_EPOCH_MS = "(extract(epoch from {}) * 1000)::bigint"

KEPT_CLOSES = f"""
SELECT symbol, resolution, {_EPOCH_MS.format("bucket")} AS bucket, close FROM bars
WHERE symbol = ANY($1::text[]) AND source <> 'ticks' AND bucket >= {_MS.format("$2::bigint")}
"""

SERIES_BEFORE = f"""
SELECT DISTINCT symbol, resolution FROM bars
WHERE symbol = ANY($1::text[]) AND bucket < {_MS.format("$2::bigint")}
"""


async def bases(
    conn: Connection, symbols: Sequence[str], since: int, periods: Sequence[int], crossover: tuple[int, int]
) -> dict[SeriesKey, Base]:
    """What each series of `symbols` keeps: REST bars from `since`, and (when `since` > 0)
    the closes and EMAs before it."""
    found: dict[SeriesKey, Base] = defaultdict(Base)
    for row in await conn.fetch(KEPT_CLOSES, list(symbols), since):
        found[(row["symbol"], row["resolution"])].kept[row["bucket"]] = row["close"]
    if since <= 0:
        return dict(found)
    keys = [(row["symbol"], row["resolution"]) for row in await conn.fetch(SERIES_BEFORE, list(symbols), since)]
    needed = max(periods)
    prefixes = await store.prefix_closes(conn, [(key, since) for key in keys], needed)
    emas = await store.emas_at(conn, [(key, prefix[-1][0]) for key, prefix in zip(keys, prefixes, strict=True)])
    for key, prefix, ema in zip(keys, prefixes, emas, strict=True):
        base = found[key]
        base.prefix = [close for _, close in prefix]
        base.emas = ema
        if not all(p in ema for p in periods):  # never computed (new periods?): from the first bar
            (history,) = await store.prefix_closes(conn, [(key, since)], 2**62)
            base.prefix = [close for _, close in history]
            base.emas = recompute([], None, history, periods, crossover).emas[-1]
    return dict(found)
