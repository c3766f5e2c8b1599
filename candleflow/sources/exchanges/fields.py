"""Reading the fields of a venue's trade, with the reason when one cannot be a tick.

Venues write prices as strings (`"97000.5"`) or JSON numbers, times as epoch seconds,
milliseconds, microseconds or RFC 3339 text, and sides as words, letters or flags.
These helpers turn each into the tick's own field or raise `InvalidTick` with what was
wrong, and `tick` checks the whole like the ticks topic's gate (`validate_tick`)
without building a dict per trade: this runs for every trade a venue sends.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

import msgspec

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


#: How far in the future a trade's time may lie (the ticks topic's default tolerance).
FUTURE_MS = 300_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)


def ms_of(moment: datetime) -> int:
    """An aware datetime as epoch milliseconds (truncated); `InvalidTick` for a naive one."""
    if moment.tzinfo is None:
        raise InvalidTick(f"time has no zone: {moment.isoformat()}")
    return (moment - EPOCH) // ONE_MS


def rfc3339_ms(text: object) -> int:
    """`2023-09-25T07:48:36.925533Z` (or with an offset) -> epoch ms, read as msgspec reads
    an RFC 3339 datetime (fractions past the microsecond rounded to it), so the fast
    paths that decode whole frames with msgspec and this agree to the millisecond."""
    if type(text) is not str:
        raise InvalidTick(f"time is not RFC 3339 text: {text!r}")
    try:
        return ms_of(msgspec.convert(text, datetime))
    except msgspec.ValidationError:
        raise InvalidTick(f"time is not RFC 3339: {text!r}") from None


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
