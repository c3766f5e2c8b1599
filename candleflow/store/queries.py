"""Read queries of the web layer: history, indicators, marks, symbols, quotes.

Each function takes an asyncpg pool (or connection) and answers in plain Python
values shaped for the UDF answers: times are unix seconds (bucket start), prices and
volumes floats. Bars are stored per resolution under its canonical code, so every
history read is one range scan of the `(symbol, resolution, bucket)` primary key. The
answer comes back as one row of column arrays (int8 seconds, float8 values: what asyncpg
decodes fastest, a whole column at a time) aggregated in scan order without a sort.
Measured (`bench/bench_history.py --breakdown`): sorting in `array_agg … ORDER BY`, or
building the JSON in PostgreSQL, costs about as much as the scan; decoding rows one by
one and regrouping them in Python costs more than that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from candleflow.core.settings import Settings

#: Bars of this resolution feed `/udf/quotes` (last price, 24 h change and volume).
QUOTES_RESOLUTION = "1"


@dataclass(frozen=True, slots=True)
class History:
    """Column arrays of bars, ascending; `next_time` is set only when they are empty;
    `over_cap` when `[from, to)` held more bars than the cap (the newest were kept)."""

    t: list[int]
    o: list[float]
    h: list[float]
    l: list[float]  # noqa: E741 - the UDF column name
    c: list[float]
    v: list[float]
    next_time: int | None
    over_cap: bool = False


@dataclass(frozen=True, slots=True)
class Series:
    """One indicator series, ascending; `next_time` and `over_cap` as in `History`."""

    t: list[int]
    v: list[float]
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
    """A signal's mark: `signal` is the key of the function that made it."""

    time: int
    signal: str
    kind: str
    label: str
    text: str
    tone: str  # up, down or neutral
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


def _newest_before(
    table: str, key: str, columns: dict[str, str], start: str, end: str, countback: str, cap: str
) -> str:
    """One row of column arrays of a series before `end`, newest first, plus `in_range`.

    The answer is the newest `max(rows in [start, end), countback)` rows before `end`, at
    most `cap`: both candidates are prefixes of the same backward scan from `end`, so the
    longer one is the range followed by the `countback - in_range` rows just before
    `start`. The first scan reads the range backward, at most `cap + 1` rows (`in_range`
    above `cap`: the range holds more than the cap, `_ascending` keeps the newest `cap`);
    the second, lateral, one continues below `start` only for the rows countback still
    wants, or, with no countback and nothing in range, for the one newest row before
    `start` (the UDF `nextTime`). A range that already holds `countback` rows costs one
    scan: no separate count reads the range twice. Both scans stop at their LIMIT, so the
    cost follows the rows returned, never the nominal length of the range; neither LIMIT
    is known at planning time, which keeps them ordered index scans rather than a bitmap
    scan and a sort.

    The arrays are aggregated in scan order (`array_agg … ORDER BY` sorts once per
    column, which measured as costly as the scan) and `_ascending` reverses them.
    """
    picked = ", ".join(f"{expression} AS {name}" for name, expression in columns.items())
    arrays = ", ".join(f"array_agg({name}) AS {name}" for name in columns)
    joined = ", ".join(f"array_cat(in_range.{name}, older.{name}) AS {name}" for name in columns)
    return f"""
WITH in_range AS (
    SELECT {arrays}, count(*) AS n FROM (
        SELECT {picked} FROM {table}
        WHERE {key} AND bucket >= {start} AND bucket < {end}
        ORDER BY bucket DESC
        LIMIT (SELECT {cap}::bigint + 1)
    ) AS newest
)
SELECT {joined}, in_range.n AS in_range
FROM in_range, LATERAL (
    SELECT {arrays} FROM (
        SELECT {picked} FROM {table}
        WHERE {key} AND bucket < least({start}, {end})
        ORDER BY bucket DESC
        LIMIT CASE
            WHEN in_range.n = 0 AND {countback}::bigint = 0 THEN 1
            ELSE greatest(least({countback}::bigint, {cap}::bigint) - in_range.n, 0)
        END
    ) AS before_start
) AS older
"""


#: Bucket start as int8 unix seconds (`date_part` is float8, cheaper than `extract`'s numeric).
_EPOCH = "date_part('epoch', bucket)::int8"
_HISTORY = _newest_before(
    "bars",
    "symbol = $1 AND resolution = $2",
    {"t": _EPOCH, "o": "open", "h": "high", "l": "low", "c": "close", "v": "volume::float8"},
    "$3",
    "$4",
    "$5",
    "$6",
)

#: The endpoint's own query, for `bench/bench_history.py` (arguments as `history` passes them).
HISTORY_SQL = _HISTORY


def _ascending(row: Any, names: str, cap: int) -> list[list[Any]]:
    """The arrays `names` of `row` (newest first, as scanned), their newest `cap`, oldest first."""
    columns = [row[name] or [] for name in names]
    times = columns[0]
    if times != sorted(times, reverse=True):  # linear on the order every plan so far delivers
        order = sorted(range(len(times)), key=times.__getitem__, reverse=True)
        columns = [[column[i] for i in order] for column in columns]
    if len(times) > cap:
        columns = [column[:cap] for column in columns]
    return [column[::-1] for column in columns]


def _next_time(row: Any, countback: int) -> int | None:
    """The UDF `nextTime` of an answer without countback and nothing in range."""
    if countback or row["in_range"] or not row["t"]:
        return None
    return int(row["t"][0])


async def history(
    db: Any, symbol: str, resolution: str, start: int, end: int, countback: int = 0, cap: int = Settings.max_span_bars
) -> History:
    """Bars with `start <= t < end`, or the `countback` bars before `end`, whichever is more.

    At most `cap` bars (the newest) are returned; `over_cap` says the range alone held
    more. `next_time` is the newest bar before `start` when nothing is returned without
    countback (None when there is none): the UDF `nextTime`, in seconds.
    """
    row = await db.fetchrow(_HISTORY, symbol, resolution, to_datetime(start), to_datetime(end), countback, cap)
    next_time = _next_time(row, countback)
    over_cap = row["in_range"] > cap
    if next_time is not None:
        return History([], [], [], [], [], [], next_time, over_cap)
    t, o, h, low, c, v = _ascending(row, "tohlcv", cap)
    return History(t, o, h, low, c, v, None, over_cap)


_INDICATOR = _newest_before(
    "indicators",
    "symbol = $1 AND resolution = $2 AND kind = $3 AND period = $4",
    {"t": _EPOCH, "v": "value"},
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
    row = await db.fetchrow(
        _INDICATOR, symbol, resolution, kind, period, to_datetime(start), to_datetime(end), countback, cap
    )
    next_time = _next_time(row, countback)
    over_cap = row["in_range"] > cap
    if next_time is not None:
        return Series([], [], next_time, over_cap)
    t, v = _ascending(row, "tv", cap)
    return Series(t, v, None, over_cap)


_MARKS = """
SELECT extract(epoch FROM bucket)::int8 AS time, signal, kind, label, text, tone, price
FROM marks
WHERE symbol = $1 AND resolution = $2 AND bucket >= $3 AND bucket <= $4
ORDER BY bucket, signal
LIMIT $5
"""


async def marks(db: Any, symbol: str, resolution: str, start: int, end: int, limit: int) -> list[Mark]:
    """Every signal's marks with `start <= time <= end` (both visible bars included), at most
    `limit` (the oldest); pass the cap + 1 to see whether a range holds more than the cap."""
    rows = await db.fetch(_MARKS, symbol, resolution, to_datetime(start), to_datetime(end), limit)
    return [Mark(r["time"], r["signal"], r["kind"], r["label"], r["text"], r["tone"], r["price"]) for r in rows]


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
