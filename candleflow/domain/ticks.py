"""The normalised tick: the one record every source publishes to `ticks.raw`.

On the wire a tick is a JSON object, the same shape as a line of a replay file::

    {"symbol": "Coinbase:BTC/USD", "ts": 1732406400123, "price": 97000.5,
     "qty": 0.0123, "side": "buy", "id": "81234"}

`ts` is integer milliseconds since the epoch (UTC); `side` is `buy`, `sell` or
`unknown`; `id` is the source's trade id or absent; `tick_size` (optional) is the
exchange's price increment, a decimal string such as `"0.01"`
(`candleflow.domain.pricescale`). The Kafka key is the symbol, so one partition orders
each symbol's ticks. `validate_tick` is the single gate: whatever it rejects goes to
`ticks.dead` with its reason (see `candleflow.domain.dead_letters`).

Bounds no real market reaches keep every value one the store holds exactly and every
sum and average of them finite: a price within [`MIN_PRICE`, `MAX_PRICE`], a quantity
within [0, `MAX_QTY`] (a bar's volume, the exact sum of its quantities, then stays far
below what `float8` holds however many ticks it counts), `ts` from 2009 to a few minutes
ahead (`timestamptz` holds it), a symbol of at most 66 ASCII characters
(`candleflow.domain.symbols`). A reason quotes at most `SHOWN` characters of a value, so
a reason is short whatever the record holds.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.pricescale import parse_tick_size
from candleflow.domain.symbols import is_symbol

SIDES = frozenset({"buy", "sell", "unknown"})

#: 2009-01-01T00:00:00Z: nothing before Bitcoin's first block is a crypto trade.
EARLIEST_MS = 1_230_768_000_000
#: Prices no market quotes: below a quadrillionth or above a quadrillion of the quote asset.
MIN_PRICE = 1e-15
MAX_PRICE = 1e15
#: No trade moves more than 10^24 units of anything.
MAX_QTY = 1e24
#: Characters of a refused value a reason quotes.
SHOWN = 60


def shown(value: object) -> str:
    """`repr(value)`, cut to `SHOWN` characters: what a reason quotes of a value."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."


class Tick(NamedTuple):
    symbol: str
    ts: int
    price: float
    qty: float
    side: str = "unknown"
    id: str | None = None
    #: the exchange's price increment (canonical decimal text), when the source knows it
    tick_size: str | None = None

    def to_json(self) -> bytes:
        record: dict[str, Any] = {
            "symbol": self.symbol,
            "ts": self.ts,
            "price": self.price,
            "qty": self.qty,
            "side": self.side,
        }
        if self.id is not None:
            record["id"] = self.id
        if self.tick_size is not None:
            record["tick_size"] = self.tick_size
        return orjson.dumps(record)


def _number(record: dict[str, Any], name: str) -> float:
    value: object = record.get(name)
    if type(value) is float:  # the fast path: runs per tick, isinstance with unions does not
        if value - value != 0.0:  # inf or nan
            raise InvalidTick(f"{name} is not finite: {value!r}")
        return value
    if type(value) is int:
        return float(value)
    if value is None:
        raise InvalidTick(f"missing {name}")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidTick(f"{name} is not a number: {shown(value)}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise InvalidTick(f"{name} is not a number: {shown(value)}") from None
    if not math.isfinite(number):
        raise InvalidTick(f"{name} is not finite: {shown(value)}")
    return number


def _timestamp(record: dict[str, Any], now_ms: int, future_tolerance_ms: int) -> int:
    value = record.get("ts")
    if type(value) is int and EARLIEST_MS <= value <= now_ms + future_tolerance_ms:
        return value
    if value is None:
        raise InvalidTick("missing ts")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTick(f"ts is not integer milliseconds: {shown(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise InvalidTick(f"ts is not integer milliseconds: {shown(value)}")
        value = int(value)
    if value < EARLIEST_MS:
        raise InvalidTick(f"ts {value} is before 2009-01-01 (milliseconds since the epoch expected)")
    if value > now_ms + future_tolerance_ms:
        raise InvalidTick(f"ts {value} is {(value - now_ms) / 1000:.0f} s in the future")
    return value


def validate_tick(record: object, *, now_ms: int | None = None, future_tolerance_s: float = 300.0) -> Tick:
    """Turn a decoded record into a `Tick`, or raise `InvalidTick` with the reason."""
    if not isinstance(record, dict):
        raise InvalidTick(f"tick is not a JSON object: {type(record).__name__}")
    symbol = record.get("symbol")
    if symbol is None:
        raise InvalidTick("missing symbol")
    if not is_symbol(symbol):
        raise InvalidTick(f"symbol {shown(symbol)} is not written Exchange:BASE/QUOTE")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    ts = _timestamp(record, now, int(future_tolerance_s * 1000))
    price = _number(record, "price")
    if price <= 0:
        raise InvalidTick(f"price must be > 0, got {price!r}")
    if not MIN_PRICE <= price <= MAX_PRICE:
        raise InvalidTick(f"price {price!r} is outside [{MIN_PRICE:g}, {MAX_PRICE:g}]: no market quotes it")
    qty = _number(record, "qty")
    if qty < 0:
        raise InvalidTick(f"qty must be >= 0, got {qty!r}")
    if qty > MAX_QTY:
        raise InvalidTick(f"qty {qty!r} is above {MAX_QTY:g}: no trade moves that much")
    side = record.get("side", "unknown")
    if side is None:
        side = "unknown"
    if type(side) is not str or side not in SIDES:
        raise InvalidTick(f"side must be buy, sell or unknown, got {shown(side)}")
    trade_id = record.get("id")
    if trade_id is not None and type(trade_id) is not str:
        if isinstance(trade_id, bool) or not isinstance(trade_id, int):
            raise InvalidTick(f"id must be a string, got {shown(trade_id)}")
        trade_id = str(trade_id)
    tick_size = record.get("tick_size")
    if tick_size is not None:
        tick_size = parse_tick_size(tick_size).text
    return Tick(symbol=symbol, ts=ts, price=price, qty=qty, side=side, id=trade_id, tick_size=tick_size)


def parse_tick(raw: bytes | str, *, now_ms: int | None = None, future_tolerance_s: float = 300.0) -> Tick:
    """Decode one JSON tick and validate it; malformed JSON is an `InvalidTick` too."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidTick(f"not JSON: {exc}") from None
    return validate_tick(record, now_ms=now_ms, future_tolerance_s=future_tolerance_s)


@lru_cache(maxsize=65_536)
def price_decimals(price: float) -> int:
    """Decimal places in the shortest text of a price: `97000.5` -> 1, `0.00012` -> 5."""
    text = repr(price)
    if "e" in text or "E" in text:
        mantissa, _, exponent = text.lower().partition("e")
        digits = len(mantissa.partition(".")[2].rstrip("0"))
        return max(0, digits - int(exponent))
    return len(text.partition(".")[2].rstrip("0"))
