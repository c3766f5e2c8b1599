"""Read queries of the web layer: history, indicators, marks, symbols, quotes.

Each function takes an asyncpg connection (or anything with its `fetch`, `fetchrow` and
`fetchval`, such as the web layer's `Database`) and answers in values shaped for the UDF
answers: times are unix seconds (bucket start), prices and volumes floats. Bars are
stored per resolution under its canonical code, so a history or indicator read is one
backward range scan of the series' primary key that stops at its LIMIT; it answers in
numpy columns (`candleflow.store.newest`), which orjson writes as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from candleflow.core.settings import Settings
from candleflow.domain.updates import BarUpdate
from candleflow.store.connection import Statements
from candleflow.store.newest import EPOCH, SeriesRead, newest, to_datetime

#: Bars of this resolution feed `/udf/quotes` (last price, 24 h change and volume).
QUOTES_RESOLUTION = "1"


Times = npt.NDArray[np.int64]
Values = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class History:
    """Column arrays of bars, ascending; `next_time` is set only when they are empty;
    `over_cap` when `[from, to)` held more bars than the cap (the newest were kept).
    Not comparable with `==` (numpy columns): compare `.tolist()` of each."""

    t: Times
    o: Values
    h: Values
    l: Values  # noqa: E741 - the UDF column name
    c: Values
    v: Values
    next_time: int | None
    over_cap: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class Series:
    """One indicator series, ascending; `next_time` and `over_cap` as in `History`."""

    t: Times
    v: Values
    next_time: int | None
    over_cap: bool = False


@dataclass(frozen=True, slots=True)
class SymbolRow:
    symbol: str
    exchange: str
    base: str
    quote: str
    #: decimals prices are shown with (`candleflow.domain.pricescale`): pricescale = 10^this
    price_decimals: int
    #: price increments a tick moves by, in units of 10^-price_decimals (TradingView's minmov)
    minmov: int = 1


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
class Quote:
    symbol: SymbolRow
    last: float | None
    open: float | None
    high: float | None
    low: float | None
    prev_close: float | None
    volume: float


_HISTORY = SeriesRead(
    "bars",
    "symbol = $1 AND resolution = $2",
    2,
    {"t": EPOCH, "o": "open", "h": "high", "l": "low", "c": "close", "v": "volume::float8"},
)
#: The statement `history` reads with (symbol, resolution, lower, end, limit), for plan tests.
HISTORY_SQL = _HISTORY.sql


async def history(
    db: Statements,
    symbol: str,
    resolution: str,
    start: int,
    end: int,
    countback: int = 0,
    cap: int = Settings.max_span_bars,
) -> History:
    """Bars with `start <= t < end`, or the `countback` bars before `end`, whichever is more.

    At most `cap` bars (the newest) are returned; `over_cap` says the range alone held
    more. `next_time` is the newest bar before `start` when nothing is returned without
    countback (None when there is none): the UDF `nextTime`, in seconds.
    """
    found = await newest(db, _HISTORY, (symbol, resolution), start, end, countback, cap)
    c = found.columns
    return History(c["t"], c["o"], c["h"], c["l"], c["c"], c["v"], found.next_time, found.over_cap)


_INDICATOR = SeriesRead(
    "indicators",
    "symbol = $1 AND resolution = $2 AND kind = $3 AND period = $4",
    4,
    {"t": EPOCH, "v": "value"},
)


async def indicator(
    db: Statements,
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
    found = await newest(db, _INDICATOR, key, start, end, countback, cap)
    return Series(found.columns["t"], found.columns["v"], found.next_time, found.over_cap)


_MARKS = """
SELECT extract(epoch FROM bucket)::int8 AS time, signal, kind, label, text, tone, price
FROM marks
WHERE symbol = $1 AND resolution = $2 AND bucket >= $3 AND bucket <= $4
ORDER BY bucket, signal
LIMIT $5
"""


async def marks(db: Statements, symbol: str, resolution: str, start: int, end: int, limit: int) -> list[Mark]:
    """Every signal's marks with `start <= time <= end` (both visible bars included), at most
    `limit` (the oldest); pass the cap + 1 to see whether a range holds more than the cap."""
    rows = await db.fetch(_MARKS, symbol, resolution, to_datetime(start), to_datetime(end), limit)
    return [Mark(r["time"], r["signal"], r["kind"], r["label"], r["text"], r["tone"], r["price"]) for r in rows]


_SYMBOL_COLUMNS = "symbol, exchange, base, quote, price_decimals, coalesce(tick_minmov, 1) AS minmov"


def _symbol(row: Any) -> SymbolRow:
    return SymbolRow(row["symbol"], row["exchange"], row["base"], row["quote"], row["price_decimals"], row["minmov"])


async def all_symbols(db: Statements) -> list[SymbolRow]:
    rows = await db.fetch(f"SELECT {_SYMBOL_COLUMNS} FROM symbols ORDER BY symbol")
    return [_symbol(r) for r in rows]


async def find_symbol(db: Statements, name: str) -> SymbolRow | None:
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


async def exchanges(db: Statements) -> list[str]:
    rows = await db.fetch("SELECT DISTINCT exchange FROM symbols ORDER BY exchange")
    return [r["exchange"] for r in rows]


#: A stored bar as live clients get it (`BarUpdate`'s fields): the series' `$1`, `$2`.
_LIVE_BAR = """
SELECT symbol, resolution, extract(epoch FROM bucket)::int8 AS time, open, high, low, close,
       volume::float8 AS volume, trades
FROM bars WHERE symbol = $1 AND resolution = $2"""


async def latest_bar(db: Statements, symbol: str, resolution: str) -> BarUpdate | None:
    """The newest stored bar of a series, as live clients get it."""
    row = await db.fetchrow(f"{_LIVE_BAR} ORDER BY bucket DESC LIMIT 1", symbol, resolution)
    return None if row is None else BarUpdate.from_fields(row)


async def bars_since(db: Statements, symbol: str, resolution: str, start: int, limit: int) -> list[BarUpdate]:
    """Up to `limit` stored bars of a series from `start` (unix s, inclusive), ascending."""
    rows = await db.fetch(
        f"{_LIVE_BAR} AND bucket >= $3 ORDER BY bucket LIMIT $4", symbol, resolution, to_datetime(start), limit
    )
    return [BarUpdate.from_fields(row) for row in rows]


_QUOTES = f"""
SELECT s.symbol, s.exchange, s.base, s.quote, s.price_decimals, coalesce(s.tick_minmov, 1) AS minmov,
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


async def quotes(db: Statements, symbols: list[str]) -> dict[str, Quote]:
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
