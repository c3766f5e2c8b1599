"""Read queries of the web layer: history, indicators, marks, symbols, quotes.

Each function takes an asyncpg pool (or connection) and answers in plain Python
values shaped for the UDF answers: times are unix seconds (bucket start), prices and
volumes floats. Bars are stored per resolution under its canonical code, so every
history read is one range scan of the `(symbol, resolution, bucket)` primary key. Rows
come back plain (times as int8 epoch seconds, volume as float8, the cheapest types for
asyncpg to decode) and are turned into column tuples in Python: measured, building the
columns or the JSON in SQL (`array_agg`, `json_build_object`) costs more than the scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from candleflow.settings import Settings

#: Bars of this resolution feed `/udf/quotes` (last price, 24 h change and volume).
QUOTES_RESOLUTION = "1"


@dataclass(frozen=True, slots=True)
class History:
    """Column arrays of bars, ascending; `next_time` is set only when they are empty;
    `over_cap` when `[from, to)` held more bars than the cap (the newest were kept)."""

    t: Sequence[int]
    o: Sequence[float]
    h: Sequence[float]
    l: Sequence[float]  # noqa: E741 - the UDF column name
    c: Sequence[float]
    v: Sequence[float]
    next_time: int | None
    over_cap: bool = False


@dataclass(frozen=True, slots=True)
class Series:
    """One indicator series, ascending; `next_time` and `over_cap` as in `History`."""

    t: Sequence[int]
    v: Sequence[float]
    next_time: int | None
    over_cap: bool = False


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


def _newest_before(table: str, key: str, columns: str, start: str, end: str, countback: str, cap: str) -> str:
    """Rows of one series before `end`, newest first: those in `[start, end)` (at most
    `cap + 1`, so a caller sees a range holding more than `cap`), then older ones until
    `countback` rows (at most `cap`) are returned; with no countback and nothing in
    range, the one newest row before `start` (the UDF `nextTime`).

    Each half is one descending scan of the primary key that stops at its LIMIT, so the
    cost follows the rows returned, never the nominal length of the range.
    """
    return f"""
WITH in_range AS MATERIALIZED (
    SELECT {columns} FROM {table}
    WHERE {key} AND bucket >= {start} AND bucket < {end}
    ORDER BY bucket DESC
    LIMIT {cap}::bigint + 1
)
SELECT * FROM in_range
UNION ALL (
    SELECT {columns} FROM {table}
    WHERE {key} AND bucket < {start}
    ORDER BY bucket DESC
    LIMIT (
        SELECT CASE
            WHEN {countback}::bigint > 0 THEN greatest(least({countback}::bigint, {cap}::bigint) - n, 0)
            WHEN n = 0 THEN 1
            ELSE 0
        END
        FROM (SELECT count(*) AS n FROM in_range) AS counted
    )
)
"""


_EPOCH = "extract(epoch FROM bucket)::int8"
_HISTORY = _newest_before(
    "bars",
    "symbol = $1 AND resolution = $2",
    f"{_EPOCH} AS t, open, high, low, close, volume::float8 AS v",
    "$3",
    "$4",
    "$5",
    "$6",
)

#: The endpoint's own query, for `bench/bench_history.py` (arguments as `history` passes them).
HISTORY_SQL = _HISTORY


@dataclass(frozen=True, slots=True)
class Picked:
    """What `_pick` keeps of `_newest_before`'s rows: ascending rows, or `next_time`."""

    rows: list[Any]
    next_time: int | None
    over_cap: bool


def _pick(rows: list[Any], start: int, countback: int, cap: int) -> Picked:
    """Ascending rows of the answer; `over_cap` when `[start, end)` holds more than `cap`
    (the newest `cap` are kept); `next_time` when none is returned and older data exists."""
    in_range = sum(1 for r in rows if r[0] >= start)
    if countback == 0 and in_range == 0:
        return Picked([], rows[0][0] if rows else None, False)
    over_cap = in_range > cap
    kept = rows[:cap]
    kept.sort(key=_first)  # one descending run: linear
    return Picked(kept, None, over_cap)


def _first(row: Any) -> int:
    return int(row[0])


async def history(
    db: Any, symbol: str, resolution: str, start: int, end: int, countback: int = 0, cap: int = Settings.max_span_bars
) -> History:
    """Bars with `start <= t < end`, or the `countback` bars before `end`, whichever is more.

    At most `cap` bars (the newest) are returned; `over_cap` says the range alone held
    more. `next_time` is the newest bar before `start` when nothing is returned without
    countback (None when there is none): the UDF `nextTime`, in seconds.
    """
    rows = await db.fetch(_HISTORY, symbol, resolution, to_datetime(start), to_datetime(end), countback, cap)
    picked = _pick(rows, start, countback, cap)
    if not picked.rows:
        return History((), (), (), (), (), (), picked.next_time, picked.over_cap)
    t, o, h, low, c, v = zip(*picked.rows, strict=True)
    return History(t, o, h, low, c, v, None, picked.over_cap)


_INDICATOR = _newest_before(
    "indicators",
    "symbol = $1 AND resolution = $2 AND kind = $3 AND period = $4",
    f"{_EPOCH} AS t, value",
    "$5",
    "$6",
    "$7",
    "$8",
)


async def indicator(
    db: Any,
    symbol: str,
    resolution: str,
    kind: str,
    period: int,
    start: int,
    end: int,
    countback: int = 0,
    cap: int = Settings.max_span_bars,
) -> Series:
    """A moving-average series with the same rules (and cap) as `history`."""
    rows = await db.fetch(
        _INDICATOR, symbol, resolution, kind, period, to_datetime(start), to_datetime(end), countback, cap
    )
    picked = _pick(rows, start, countback, cap)
    if not picked.rows:
        return Series((), (), picked.next_time, picked.over_cap)
    t, v = zip(*picked.rows, strict=True)
    return Series(t, v, None, picked.over_cap)


_MARKS = """
SELECT extract(epoch FROM bucket)::int8 AS time, kind, fast, slow, price
FROM marks
WHERE symbol = $1 AND resolution = $2 AND bucket >= $3 AND bucket <= $4
ORDER BY bucket
LIMIT $5
"""


async def marks(db: Any, symbol: str, resolution: str, start: int, end: int, limit: int) -> list[Mark]:
    """Crossover marks with `start <= time <= end` (both visible bars included), at most
    `limit` (the oldest); pass the cap + 1 to see whether a range holds more than the cap."""
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
