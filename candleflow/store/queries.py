"""Read queries of the web layer: history, indicators, marks, symbols, quotes.

Each function takes an asyncpg pool (or connection) and answers in plain Python
values shaped for the UDF answers: times are unix seconds (bucket start), prices and
volumes floats. Bars are stored per resolution under its canonical code, so every
history read is one range scan of the `(symbol, resolution, bucket)` primary key;
column arrays are built in SQL (`array_agg`) so a 10 000-bar answer is one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: Bars of this resolution feed `/udf/quotes` (last price, 24 h change and volume).
QUOTES_RESOLUTION = "1"


@dataclass(frozen=True, slots=True)
class History:
    """Column arrays of bars, ascending; `next_time` is set only when they are empty."""

    t: list[int]
    o: list[float]
    h: list[float]
    l: list[float]  # noqa: E741 - the UDF column name
    c: list[float]
    v: list[float]
    next_time: int | None


@dataclass(frozen=True, slots=True)
class Series:
    """One indicator series, ascending; `next_time` is set only when it is empty."""

    t: list[int]
    v: list[float]
    next_time: int | None


@dataclass(frozen=True, slots=True)
class SymbolRow:
    symbol: str
    exchange: str
    base: str
    quote: str
    price_decimals: int


@dataclass(frozen=True, slots=True)
class Mark:
    time: int
    kind: str
    fast: int
    slow: int
    price: float


@dataclass(frozen=True, slots=True)
class Bar:
    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: SymbolRow
    last: float | None
    open: float | None
    high: float | None
    low: float | None
    prev_close: float | None
    volume: float


def to_datetime(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


_HISTORY = """
WITH in_range AS (
    SELECT bucket, open, high, low, close, volume
    FROM bars
    WHERE symbol = $1 AND resolution = $2 AND bucket >= $3 AND bucket < $4
), older AS (
    SELECT bucket, open, high, low, close, volume
    FROM bars
    WHERE symbol = $1 AND resolution = $2 AND bucket < $3
    ORDER BY bucket DESC
    LIMIT greatest($5::bigint - (SELECT count(*) FROM in_range), 0)
), picked AS (
    SELECT * FROM older UNION ALL SELECT * FROM in_range
)
SELECT
    coalesce(array_agg(extract(epoch FROM bucket)::int8 ORDER BY bucket), '{}') AS t,
    coalesce(array_agg(open ORDER BY bucket), '{}') AS o,
    coalesce(array_agg(high ORDER BY bucket), '{}') AS h,
    coalesce(array_agg(low ORDER BY bucket), '{}') AS l,
    coalesce(array_agg(close ORDER BY bucket), '{}') AS c,
    coalesce(array_agg(volume::float8 ORDER BY bucket), '{}') AS v,
    CASE WHEN count(*) = 0 THEN (
        SELECT extract(epoch FROM max(bucket))::int8
        FROM bars WHERE symbol = $1 AND resolution = $2 AND bucket < $3
    ) END AS next_time
FROM picked
"""

#: The bare range query `bench/bench_history.py` compares the endpoint with.
HISTORY_SQL = _HISTORY


async def history(db: Any, symbol: str, resolution: str, start: int, end: int, countback: int = 0) -> History:
    """Bars with `start <= t < end`, plus older ones until `countback` bars are returned.

    `next_time` is the newest bar before `start` when nothing is returned (None when
    there is none): the UDF `nextTime`, in seconds.
    """
    row = await db.fetchrow(_HISTORY, symbol, resolution, to_datetime(start), to_datetime(end), countback)
    return History(row["t"], row["o"], row["h"], row["l"], row["c"], row["v"], row["next_time"])


_INDICATOR = """
WITH in_range AS (
    SELECT bucket, value FROM indicators
    WHERE symbol = $1 AND resolution = $2 AND kind = $3 AND period = $4
      AND bucket >= $5 AND bucket < $6
), older AS (
    SELECT bucket, value FROM indicators
    WHERE symbol = $1 AND resolution = $2 AND kind = $3 AND period = $4 AND bucket < $5
    ORDER BY bucket DESC
    LIMIT greatest($7::bigint - (SELECT count(*) FROM in_range), 0)
), picked AS (
    SELECT * FROM older UNION ALL SELECT * FROM in_range
)
SELECT
    coalesce(array_agg(extract(epoch FROM bucket)::int8 ORDER BY bucket), '{}') AS t,
    coalesce(array_agg(value ORDER BY bucket), '{}') AS v,
    CASE WHEN count(*) = 0 THEN (
        SELECT extract(epoch FROM max(bucket))::int8 FROM indicators
        WHERE symbol = $1 AND resolution = $2 AND kind = $3 AND period = $4 AND bucket < $5
    ) END AS next_time
FROM picked
"""


async def indicator(
    db: Any,
    symbol: str,
    resolution: str,
    kind: str,
    period: int,
    start: int,
    end: int,
    countback: int = 0,
) -> Series:
    """A moving-average series with the same time rules as `history`."""
    row = await db.fetchrow(
        _INDICATOR,
        symbol,
        resolution,
        kind,
        period,
        to_datetime(start),
        to_datetime(end),
        countback,
    )
    return Series(row["t"], row["v"], row["next_time"])


_MARKS = """
SELECT extract(epoch FROM bucket)::int8 AS time, kind, fast, slow, price
FROM marks
WHERE symbol = $1 AND resolution = $2 AND bucket >= $3 AND bucket <= $4
ORDER BY bucket
LIMIT $5
"""


async def marks(db: Any, symbol: str, resolution: str, start: int, end: int, limit: int) -> list[Mark]:
    """Crossover marks with `start <= time <= end` (both visible bars included)."""
    rows = await db.fetch(_MARKS, symbol, resolution, to_datetime(start), to_datetime(end), limit)
    return [Mark(r["time"], r["kind"], r["fast"], r["slow"], r["price"]) for r in rows]


_SYMBOL_COLUMNS = "symbol, exchange, base, quote, price_decimals"


def _symbol(row: Any) -> SymbolRow:
    return SymbolRow(row["symbol"], row["exchange"], row["base"], row["quote"], row["price_decimals"])


async def all_symbols(db: Any) -> list[SymbolRow]:
    rows = await db.fetch(f"SELECT {_SYMBOL_COLUMNS} FROM symbols ORDER BY symbol")
    return [_symbol(r) for r in rows]


async def find_symbol(db: Any, name: str) -> SymbolRow | None:
    """The symbol named `name` (any case), or written `BASE/QUOTE` without exchange."""
    row = await db.fetchrow(
        f"""
        SELECT {_SYMBOL_COLUMNS} FROM symbols
        WHERE upper(symbol) = upper($1) OR upper(base || '/' || quote) = upper($1)
        ORDER BY (symbol = $1) DESC, (upper(symbol) = upper($1)) DESC, symbol
        LIMIT 1
        """,
        name,
    )
    return None if row is None else _symbol(row)


async def exchanges(db: Any) -> list[str]:
    rows = await db.fetch("SELECT DISTINCT exchange FROM symbols ORDER BY exchange")
    return [r["exchange"] for r in rows]


async def latest_bar(db: Any, symbol: str, resolution: str) -> Bar | None:
    row = await db.fetchrow(
        """
        SELECT extract(epoch FROM bucket)::int8 AS time, open, high, low, close,
               volume::float8 AS volume, trades
        FROM bars WHERE symbol = $1 AND resolution = $2
        ORDER BY bucket DESC LIMIT 1
        """,
        symbol,
        resolution,
    )
    if row is None:
        return None
    return Bar(
        row["time"],
        row["open"],
        row["high"],
        row["low"],
        row["close"],
        row["volume"],
        row["trades"],
    )


async def bars_since(db: Any, symbol: str, resolution: str, start: int, limit: int) -> list[Bar]:
    """Up to `limit` stored bars of a series from `start` (unix s, inclusive), ascending."""
    rows = await db.fetch(
        """
        SELECT extract(epoch FROM bucket)::int8 AS time, open, high, low, close,
               volume::float8 AS volume, trades
        FROM bars WHERE symbol = $1 AND resolution = $2 AND bucket >= $3
        ORDER BY bucket LIMIT $4
        """,
        symbol,
        resolution,
        to_datetime(start),
        limit,
    )
    return [Bar(r["time"], r["open"], r["high"], r["low"], r["close"], r["volume"], r["trades"]) for r in rows]


_QUOTES = f"""
SELECT s.symbol, s.exchange, s.base, s.quote, s.price_decimals,
       last.close AS last, w.open, w.high, w.low, coalesce(w.volume, 0) AS volume,
       prev.close AS prev_close
FROM unnest($1::text[]) AS q(name)
JOIN symbols s ON s.symbol = q.name
LEFT JOIN LATERAL (
    SELECT bucket, close FROM bars
    WHERE symbol = s.symbol AND resolution = '{QUOTES_RESOLUTION}'
    ORDER BY bucket DESC LIMIT 1
) last ON true
LEFT JOIN LATERAL (
    SELECT (array_agg(open ORDER BY bucket))[1] AS open, max(high) AS high, min(low) AS low,
           sum(volume)::float8 AS volume
    FROM bars
    WHERE symbol = s.symbol AND resolution = '{QUOTES_RESOLUTION}'
      AND bucket > last.bucket - interval '24 hours' AND bucket <= last.bucket
) w ON true
LEFT JOIN LATERAL (
    SELECT close FROM bars
    WHERE symbol = s.symbol AND resolution = '{QUOTES_RESOLUTION}'
      AND bucket <= last.bucket - interval '24 hours'
    ORDER BY bucket DESC LIMIT 1
) prev ON true
"""


async def quotes(db: Any, symbols: list[str]) -> dict[str, Quote]:
    """Quotes of the known symbols among `symbols`, over the 24 h ending at the latest bar.

    The window is the 24 hours of 1-minute bars ending with the symbol's latest bar
    (not the wall clock), so a replayed or paused feed still shows its last day.
    `prev_close` is the close 24 h before the latest bar (None if history is shorter).
    """
    rows = await db.fetch(_QUOTES, symbols)
    return {
        r["symbol"]: Quote(_symbol(r), r["last"], r["open"], r["high"], r["low"], r["prev_close"], r["volume"])
        for r in rows
    }


async def capability(db: Any) -> str:
    """`timescaledb` when the extension is installed in the database, else `postgresql`."""
    present = await db.fetchval("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')")
    return "timescaledb" if present else "postgresql"
