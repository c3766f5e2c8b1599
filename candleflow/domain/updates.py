"""The `bars.updates` wire format, encoded by the engine and decoded by every SSE hub.

One record per changed bar, keyed `symbol|resolution` (so one partition orders a
series), valued as a JSON object::

    {"symbol": "Coinbase:BTC/USD", "resolution": "1", "time": <bucket start, unix s>,
     "open": …, "high": …, "low": …, "close": …, "volume": …, "trades": …,
     "correction": <true when an older bar of the series changed>,
     "committed_at": <unix s (float) the engine's transaction committed; optional>,
     "republished": <true when a starting worker re-sent the stored bar; optional>}

`committed_at` only feeds the hub's "committed → received" latency histogram; records
without it (older engines, tests) decode the same. Records carry a header `origin`
(`ORIGIN_HEADER`): the id of the worker process that published them. That process's
own hub was handed the same updates in memory when they committed, and skips them. A `republished` bar may be older
than an update another worker committed meanwhile: hubs drop it when they have seen
that bar with as many trades (a bar's trade count only grows).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

log = logging.getLogger(__name__)

Key = tuple[str, str]

#: The record header naming the publishing process (see the module docstring).
ORIGIN_HEADER = "origin"


class Fields(Protocol):
    """Anything that gives a bar's fields by name (a dict, a stored row)."""

    def __getitem__(self, name: str, /) -> Any: ...


def key_of(symbol: str, resolution: str) -> bytes:
    """The record key of a series (also the `sub=` spelling of the SSE streams)."""
    return f"{symbol}|{resolution}".encode()


@dataclass(frozen=True, slots=True)
class BarUpdate:
    """One record of `bars.updates`."""

    symbol: str
    resolution: str
    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int
    correction: bool = False
    committed_at: float | None = None
    republished: bool = False

    @property
    def key(self) -> Key:
        return (self.symbol, self.resolution)

    @classmethod
    def from_fields(cls, bar: Fields, **flags: Any) -> BarUpdate:
        """The update of a bar given by its fields (`symbol` … `trades`, as a stored row
        names them); `flags` sets `correction`, `committed_at` or `republished`."""
        return cls(
            symbol=bar["symbol"],
            resolution=bar["resolution"],
            time=bar["time"],
            open=bar["open"],
            high=bar["high"],
            low=bar["low"],
            close=bar["close"],
            volume=bar["volume"],
            trades=bar["trades"],
            **flags,
        )

    def bar_fields(self) -> dict[str, Any]:
        """The bar's own fields, as SSE events and `bars.updates` records both carry them."""
        return {
            "symbol": self.symbol,
            "resolution": self.resolution,
            "time": self.time,
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
            "trades": self.trades,
        }

    def bar_json(self) -> bytes:
        """The bar as SSE events carry it: without `correction` and `committed_at`."""
        return orjson.dumps(self.bar_fields())


def encode(update: BarUpdate) -> tuple[bytes, bytes]:
    """The record (key, value) of `update`."""
    value = update.bar_fields()
    value["correction"] = update.correction
    if update.committed_at is not None:
        value["committed_at"] = update.committed_at
    if update.republished:
        value["republished"] = True
    return key_of(update.symbol, update.resolution), orjson.dumps(value)


def decode(value: bytes | None) -> BarUpdate | None:
    """Parse one record's value; None (and a log line) for anything malformed."""
    try:
        record: Any = orjson.loads(value or b"")
        committed_at = record.get("committed_at")
        update = BarUpdate(
            symbol=str(record["symbol"]),
            resolution=str(record["resolution"]),
            time=int(record["time"]),
            open=float(record["open"]),
            high=float(record["high"]),
            low=float(record["low"]),
            close=float(record["close"]),
            volume=float(record["volume"]),
            trades=int(record["trades"]),
            correction=bool(record.get("correction", False)),
            committed_at=None if committed_at is None else float(committed_at),
            republished=bool(record.get("republished", False)),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
        log.warning("ignoring malformed bar update %r: %r", (value or b"")[:200], exc)
        return None
    if not all(math.isfinite(x) for x in (update.open, update.high, update.low, update.close)):
        log.warning("ignoring bar update with non-finite prices: %r", update)
        return None
    return update
