"""Reading the fields of a venue's trade, with the reason when one cannot be a tick.

Venues write prices as strings (`"97000.5"`) or JSON numbers, times as epoch seconds,
milliseconds, microseconds or RFC 3339 text, and sides as words, letters or flags.
These helpers turn each into the tick's own field or raise `InvalidTick` with what was
wrong, and `tick` checks the whole like the ticks topic's gate (`validate_tick`)
without building a dict per trade: this runs for every trade a venue sends.
"""

from __future__ import annotations

import calendar
import time
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import EARLIEST_MS, Tick


def number(value: object, name: str) -> float:
    """A decimal string or JSON number -> float."""
    if type(value) is str:
        try:
            result = float(value)
        except ValueError:
            raise InvalidTick(f"{name} is not a number: {value!r}") from None
    elif type(value) is float or type(value) is int:
        result = float(value)
    else:
        raise InvalidTick(f"{name} is not a number: {value!r}")
    if result - result != 0.0:
        raise InvalidTick(f"{name} is not finite: {value!r}")
    return result


def integer(value: object, name: str) -> int:
    """An integer or its decimal text -> int."""
    if type(value) is int:
        return value
    if type(value) is str and value.isdigit():
        return int(value)
    raise InvalidTick(f"{name} is not an integer: {value!r}")


def trade_id(value: object) -> str:
    """A venue's trade id (string or integer) as the tick's id."""
    if type(value) is str and value:
        return value
    if type(value) is int:
        return str(value)
    raise InvalidTick(f"trade id is missing or not a string/integer: {value!r}")


@lru_cache(maxsize=64)
def _day_start_ms(date: str) -> int:
    year, month, day = int(date[0:4]), int(date[5:7]), int(date[8:10])
    return calendar.timegm((year, month, day, 0, 0, 0)) * 1000


def rfc3339_ms(text: object) -> int:
    """`2023-09-25T07:48:36.925533Z` (any fraction length, `Z` or `+00:00`) -> epoch ms."""
    if type(text) is not str or len(text) < 20 or text[10] not in "Tt " or text[4] != "-" or text[13] != ":":
        raise InvalidTick(f"time is not RFC 3339 UTC: {text!r}")
    try:
        ms = _day_start_ms(text[:10])
        ms += (int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])) * 1000
        rest = text[19:]
        if rest.startswith("."):
            digits = len(rest) - len(rest[1:].lstrip("0123456789"))
            fraction, rest = rest[1:digits], rest[digits:]
            ms += int((fraction + "000")[:3]) if fraction else 0
    except ValueError:
        raise InvalidTick(f"time is not RFC 3339 UTC: {text!r}") from None
    if rest not in ("Z", "z", "+00:00", "-00:00"):
        raise InvalidTick(f"time is not RFC 3339 UTC (zone {rest!r}): {text!r}")
    return ms


def tick(
    symbol: str,
    ts: int,
    price: float,
    qty: float,
    side: str,
    ident: str | None,
    *,
    now_ms: int | None = None,
    future_tolerance_s: float = 300.0,
) -> Tick:
    """A tick from checked fields; `InvalidTick` for what the ticks topic would refuse."""
    if price <= 0:
        raise InvalidTick(f"price must be > 0, got {price!r}")
    if qty < 0:
        raise InvalidTick(f"qty must be >= 0, got {qty!r}")
    if ts < EARLIEST_MS:
        raise InvalidTick(f"ts {ts} is before 2009-01-01")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if ts > now + future_tolerance_s * 1000:
        raise InvalidTick(f"ts {ts} is {(ts - now) / 1000:.0f} s in the future")
    return Tick(symbol, ts, price, qty, side, ident)


def increment(value: object) -> str | None:
    """A venue's price increment (`"0.01000000"`, `0.1`, `"1e-05"`) as plain decimal text
    (`"0.01"`, `"0.1"`, `"0.00001"`); None when it is not a positive number."""
    try:
        amount = Decimal(str(value)) if type(value) in (str, int, float) else None
    except InvalidOperation:
        return None
    if amount is None or not amount.is_finite() or amount <= 0:
        return None
    text = format(amount.normalize(), "f")
    return text
