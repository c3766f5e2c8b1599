"""Read queries of the web layer: history, indicators, marks, symbols, quotes.

Each function takes an asyncpg connection (or anything with its `fetch`, `fetchrow` and
`fetchval`, such as the web layer's `Database`) and answers in plain Python
values shaped for the UDF answers: times are unix seconds (bucket start), prices and
volumes floats. Bars are stored per resolution under its canonical code, so every
history read is a backward range scan of the `(symbol, resolution, bucket)` primary key
that stops at its LIMIT, aggregated into one row of column arrays (int8 seconds, float8
values) in scan order: asyncpg decodes a whole column at a time, into no Python object
per row. Measured (`bench/bench_history.py --breakdown`, and `gc.callbacks` in a
worker): rows decoded one by one are as cheap to read, but a few thousand records alive
at once push the worker's garbage collector into full collections of 60-75 ms; sorting
in `array_agg … ORDER BY`, or building the JSON in PostgreSQL, costs 1.5-2x the bare
rows.
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


#: Older than any bucket: the lower bound of a read that has none.
_BEFORE_ALL = datetime.min.replace(tzinfo=UTC)


def _newest_first(table: str, key: str, columns: dict[str, str], params: int) -> str:
    """The one statement of a series read: one row of column arrays of the rows of
    `[lower, end)`, newest first, at most `limit` (`key` uses `$1`..`$params`; then
    lower, end, limit).

    The LIMIT is not known at planning time (a sub-select), which keeps the plan an ordered
    backward index scan that stops at it, never a bitmap scan and a sort of the range; the
    arrays are aggregated in scan order (`array_agg … ORDER BY` sorts once per column)."""
    picked = ", ".join(f"{expression} AS {name}" for name, expression in columns.items())
    arrays = ", ".join(f"array_agg({name}) AS {name}" for name in columns)
    return f"""
SELECT {arrays} FROM (
    SELECT {picked} FROM {table}
    WHERE {key} AND bucket >= ${params + 1} AND bucket < ${params + 2}
    ORDER BY bucket DESC
    LIMIT (SELECT ${params + 3}::bigint)
) AS newest
"""


Columns = list[list[Any]]


async def _read(db: Any, sql: str, key: tuple[Any, ...], lower: datetime, end: int, limit: int) -> Columns:
    """The columns of one read of `sql` (see `_newest_first`), newest first."""
    row = await db.fetchrow(sql, *key, lower, to_datetime(end), limit)
    columns = [column or [] for column in row.values()]
    times = columns[0]
    if times != sorted(times, reverse=True):  # linear on the scan order every plan so far delivers
        order = sorted(range(len(times)), key=times.__getitem__, reverse=True)
        columns = [[column[i] for i in order] for column in columns]
    return columns


async def _newest(
    db: Any, sql: str, key: tuple[Any, ...], start: int, end: int, countback: int, cap: int
) -> tuple[Columns, bool, int | None]:
    """(columns oldest first, over_cap, next_time) of the rule every series read follows.

    The answer is the newest `max(rows in [start, end), countback)` rows before `end`, at
    most `cap`; `over_cap` when the range alone holds more than `cap`; without countback
    and with nothing in range, `next_time` is the newest row before `start`. Both
    candidates are prefixes of one backward scan from `end`, so one read of `countback +
    1` rows usually settles it: when its last row is before `start`, the range is inside
    the first `countback`. Only a range holding more rows than `countback` is read on from
    where the first read stopped (up to `cap + 1` rows in all, to see whether it holds more
    than the cap); without countback, the range is read, and when it is empty the one row
    before it. The cost follows the rows returned, never the nominal length of the range.
    """
    over_cap, next_time = False, None
    if countback:
        keep = min(countback, cap)
        columns = await _read(db, sql, key, _BEFORE_ALL, end, keep + 1)
        times = columns[0]
        if len(times) > keep and times[keep] >= start:  # the range holds more than countback
            if keep < cap:
                more = await _read(db, sql, key, to_datetime(start), times[-1], cap - keep)
                columns = [column + rest for column, rest in zip(columns, more, strict=True)]
            over_cap, keep = len(columns[0]) > cap, cap
    else:
        keep = cap
        columns = await _read(db, sql, key, to_datetime(start), end, cap + 1)
        over_cap = len(columns[0]) > cap
        if not columns[0]:
            before = await _read(db, sql, key, _BEFORE_ALL, min(start, end), 1)
            next_time = before[0][0] if before[0] else None
    if len(columns[0]) > keep:
        columns = [column[:keep] for column in columns]
    return [column[::-1] for column in columns], over_cap, next_time


#: Bucket start as int8 unix seconds (`date_part` is float8, cheaper than `extract`'s numeric).
_EPOCH = "date_part('epoch', bucket)::int8"
_HISTORY = _newest_first(
    "bars",
    "symbol = $1 AND resolution = $2",
    {"t": _EPOCH, "o": "open", "h": "high", "l": "low", "c": "close", "v": "volume::float8"},
    2,
)
#: The statement `history` reads with (symbol, resolution, lower, end, limit), for plan tests.
HISTORY_SQL = _HISTORY


async def history(
    db: Any, symbol: str, resolution: str, start: int, end: int, countback: int = 0, cap: int = Settings.max_span_bars
) -> History:
    """Bars with `start <= t < end`, or the `countback` bars before `end`, whichever is more.

    At most `cap` bars (the newest) are returned; `over_cap` says the range alone held
    more. `next_time` is the newest bar before `start` when nothing is returned without
    countback (None when there is none): the UDF `nextTime`, in seconds.
    """
    columns, over_cap, next_time = await _newest(db, _HISTORY, (symbol, resolution), start, end, countback, cap)
    t, o, h, low, c, v = columns
    return History(t, o, h, low, c, v, next_time, over_cap)


_INDICATOR = _newest_first(
    "indicators",
    "symbol = $1 AND resolution = $2 AND kind = $3 AND period = $4",
    {"t": _EPOCH, "v": "value"},
    4,
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
    key = (symbol, resolution, kind, period)
    columns, over_cap, next_time = await _newest(db, _INDICATOR, key, start, end, countback, cap)
    t, v = columns
    return Series(t, v, next_time, over_cap)


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
