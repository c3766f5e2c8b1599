"""The `rebuild_*` staging tables (sql/005_rebuild.sql): filled with COPY, swapped in
by `candleflow.maintenance.rebuild.swap`, and the reads of what the rebuild keeps from the live
tables (`Base` of each series)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from candleflow.domain.bars import BAR_FIELDS, Bar, BarKey, SeriesKey
from candleflow.functions.api import Bar as FunctionBar
from candleflow.functions.registry import FunctionSet
from candleflow.maintenance.rebuild.series import Base, IndicatorRow, MarkRow
from candleflow.store import series as store_series
from candleflow.store import staged
from candleflow.store.bars import Connection

BAR_COLUMNS = ("symbol", "resolution", "bucket", *BAR_FIELDS)
INDICATOR_COLUMNS = ("symbol", "resolution", "kind", "period", "bucket", "value")
MARK_COLUMNS = ("symbol", "resolution", "bucket", "signal", "kind", "label", "text", "tone", "price")
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


async def bases(conn: Connection, symbols: Sequence[str], since: int, functions: FunctionSet) -> dict[SeriesKey, Base]:
    """What each series of `symbols` keeps: REST bars from `since`, and (when `since` > 0)
    the bars before it and the stored outputs at the last one."""
    found: dict[SeriesKey, Base] = defaultdict(Base)
    for row in await staged.kept_bars(conn, symbols, since):
        bucket = row["bucket"]
        found[(row["symbol"], row["resolution"])].kept[bucket] = FunctionBar(
            bucket, row["open"], row["high"], row["low"], row["close"], row["volume"]
        )
    if since <= 0:
        return dict(found)
    keys = [(row["symbol"], row["resolution"]) for row in await staged.series_before(conn, symbols, since)]
    for prefix in await store_series.prefixes(conn, functions, [(key, since) for key in keys], history=False):
        base = found[prefix.key]
        base.prefix, base.seeds = prefix.bars, prefix.seeds
    return dict(found)
