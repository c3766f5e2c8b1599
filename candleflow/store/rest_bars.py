"""The backfill's reads and writes: REST bars (never over a tick bar), the first bar of
each source per resolution, and `backfill_progress` (the span of row times done per
symbol and endpoint).

REST bars carry no trade count and no log position (see `Bar.of_rest`): the upsert
stores trades 0, open and close at the bucket start, seqs -1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from candleflow.domain.bars import Bar, LevelKey
from candleflow.store.connection import Connection
from candleflow.store.sql import REST, STORED_IS_REST, epoch_ms, ms

UPSERT_REST = f"""
INSERT INTO bars AS b (symbol, resolution, bucket, open, high, low, close, volume, trades,
                       open_ts, open_seq, close_ts, close_seq, source)
SELECT $1, $2, {ms("d.bucket")}, d.open, d.high, d.low, d.close, d.volume, 0,
       d.bucket, -1, d.bucket, -1, '{REST}'
FROM unnest($3::bigint[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::numeric[])
     AS d(bucket, open, high, low, close, volume)
ON CONFLICT (symbol, resolution, bucket) DO UPDATE SET
    open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
    volume = excluded.volume, trades = 0, open_ts = excluded.open_ts, open_seq = -1,
    close_ts = excluded.close_ts, close_seq = -1
WHERE {STORED_IS_REST}
"""

FIRST_BARS = f"""
SELECT r.code,
       (SELECT {epoch_ms("min(bucket)")} FROM bars
        WHERE symbol = $1 AND resolution = r.code AND source = $3) AS first
FROM unnest($2::text[]) AS r(code)
"""

REST_BARS = f"""
SELECT {epoch_ms("bucket")} AS bucket, open, high, low, close, volume FROM bars
WHERE symbol = $1 AND resolution = $2 AND source = '{REST}'
  AND bucket >= {ms("$3::bigint")} AND bucket < {ms("$4::bigint")}
ORDER BY bucket
"""

READ_PROGRESS = "SELECT lower_ts, upper_ts FROM backfill_progress WHERE symbol = $1 AND endpoint = $2"

SAVE_PROGRESS = """
INSERT INTO backfill_progress (symbol, endpoint, lower_ts, upper_ts, pages) VALUES ($1, $2, $3, $4, 1)
ON CONFLICT (symbol, endpoint) DO UPDATE SET lower_ts = excluded.lower_ts, upper_ts = excluded.upper_ts,
    pages = CASE WHEN $5 THEN 1 ELSE backfill_progress.pages + 1 END, updated_at = now()
"""


async def write_rest_bars(conn: Connection, symbol: str, resolution: str, bars: Mapping[LevelKey, Bar]) -> int:
    """Insert or refresh REST bars of one symbol (never a tick bar); the number written."""
    if not bars:
        return 0
    buckets = [bucket for _, bucket in bars]
    rows = list(bars.values())
    status = await conn.execute(
        UPSERT_REST,
        symbol,
        resolution,
        buckets,
        [b.open for b in rows],
        [b.high for b in rows],
        [b.low for b in rows],
        [b.close for b in rows],
        [b.volume for b in rows],
    )
    return int(str(status).rsplit(" ", 1)[-1])


async def first_bars(conn: Connection, symbol: str, resolutions: Sequence[str], source: str) -> dict[str, int | None]:
    """Bucket (ms) of the first bar of each resolution from `source` (None: no such bar)."""
    rows = await conn.fetch(FIRST_BARS, symbol, list(resolutions), source)
    return {row["code"]: row["first"] for row in rows}


async def rest_bars(conn: Connection, symbol: str, resolution: str, start_ms: int, end_ms: int) -> dict[LevelKey, Bar]:
    """The stored REST bars of `[start_ms, end_ms)`, oldest first."""
    rows = await conn.fetch(REST_BARS, symbol, resolution, start_ms, end_ms)
    return {
        (symbol, r["bucket"]): Bar.of_rest(
            r["bucket"], r["open"], r["high"], r["low"], r["close"], Decimal(r["volume"])
        )
        for r in rows
    }


async def read_progress(conn: Connection, symbol: str, endpoint: str) -> tuple[int, int] | None:
    """(lower, upper) row times (s) done for `symbol` and `endpoint`, or None."""
    row = await conn.fetchrow(READ_PROGRESS, symbol, endpoint)
    return None if row is None else (row["lower_ts"], row["upper_ts"])


async def save_progress(conn: Connection, symbol: str, endpoint: str, lower: int, upper: int, *, fresh: bool) -> None:
    """Record the span done; `fresh` restarts the page count (a new span)."""
    await conn.execute(SAVE_PROGRESS, symbol, endpoint, lower, upper, fresh)


async def has_progress_table(conn: Connection) -> bool:
    return await conn.fetchval("SELECT to_regclass('backfill_progress')") is not None
