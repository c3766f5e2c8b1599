"""Kraken spot websocket v2: the `trade` channel.

Documented at https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/trade
(and the `ping`, `heartbeat` and `status` pages beside it; endpoint `wss://ws.kraken.com/v2`):

* `{"method": "subscribe", "params": {"channel": "trade", "symbol": ["BTC/USD"],
  "snapshot": true}, "req_id": 1}`, acknowledged once per symbol: `{"method":
  "subscribe", "success": true, "result": {"channel": "trade", "symbol": "BTC/USD", ...}}`
  or `{"success": false, "error": "Currency pair not supported XBT/USD", "symbol": ...}`;
* `{"channel": "trade", "type": "snapshot" | "update", "data": [{"symbol", "side",
  "price", "qty", "ord_type", "trade_id", "timestamp"}]}` with numbers for price and
  quantity and RFC 3339 times; the snapshot repeats the last trades on every subscribe,
  reconnects included;
* `{"channel": "heartbeat"}` about once a second while subscribed, `{"channel":
  "status"}` on connect; the client's `{"method": "ping"}` is answered by `pong`;
* v2 spells Bitcoin BTC (the REST API still says XBT: `candleflow.domain.venues`).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import orjson

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import EARLIEST_MS, Tick
from candleflow.domain.venues import KRAKEN, Spellings
from candleflow.sources.exchanges import fields
from candleflow.sources.exchanges.fields import EPOCH, FUTURE_MS, ONE_MS
from candleflow.sources.exchanges.kraken_rest import KrakenRest
from candleflow.sources.exchanges.venue_protocol import VenueProtocol, json_object, text
from candleflow.sources.stream.events import Alive, BadTrade, Event, NotUnderstood, Refused, Subscribed, Trades
from candleflow.sources.stream.protocol import ExchangeSpec, Limits

DOCS = "https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/trade"
LIMITS = Limits(
    pairs_per_connection=200,
    messages_per_second=2.0,
    connects_per_second=0.2,  # Kraken limits connection attempts per address (about 150 per 10 minutes)
    silence=15.0,  # heartbeats come every second
    ping_interval=30.0,
    pairs_per_message=50,
)
_SIDES = {"buy": "buy", "sell": "sell"}


class _Row(msgspec.Struct, gc=False):
    symbol: str
    side: Literal["buy", "sell"]
    price: Annotated[float, msgspec.Meta(gt=0.0)]
    qty: Annotated[float, msgspec.Meta(ge=0.0)]
    trade_id: int
    timestamp: datetime


class _Message(msgspec.Struct, gc=False):
    """A well-formed `trade` message: the fast path (anything else takes `_parse`)."""

    channel: Literal["trade"]
    type: Literal["snapshot", "update"]
    data: list[_Row]


_MESSAGE = msgspec.json.Decoder(_Message).decode


class KrakenProtocol(VenueProtocol):
    default_limits = LIMITS

    def __init__(self, base_url: str, spellings: Spellings, limits: Limits | None = None) -> None:
        super().__init__(base_url, spellings, limits)
        self._pings = 0

    def subscribe(self) -> list[str]:
        natives = list(self.spellings)
        size = self.limits.pairs_per_message
        return [
            orjson.dumps(
                {
                    "method": "subscribe",
                    "params": {"channel": "trade", "symbol": natives[i : i + size], "snapshot": True},
                    "req_id": i // size + 1,
                }
            ).decode()
            for i in range(0, len(natives), size)
        ]

    def ping(self) -> str | None:
        return '{"method":"ping"}'

    def parse(self, data: str | bytes) -> list[Event]:
        try:
            message = _MESSAGE(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return self._parse(data)
        latest = time.time() * 1000 + FUTURE_MS
        ticks = []
        for row in message.data:
            symbol = self.spellings.symbol(row.symbol)
            if symbol is None or row.timestamp.tzinfo is None:
                return self._parse(data)
            ts = (row.timestamp - EPOCH) // ONE_MS
            if ts > latest or ts < EARLIEST_MS:
                return self._parse(data)
            ticks.append(Tick(symbol, ts, row.price, row.qty, row.side, str(row.trade_id)))
        return [Trades(ticks, snapshot=message.type == "snapshot")] if ticks else [Alive()]

    def _parse(self, data: str | bytes) -> list[Event]:
        """Every frame the fast path does not take, with the reasons when it is not a trade."""
        frame = json_object(data)
        if isinstance(frame, NotUnderstood):
            return [frame]
        channel = frame.get("channel")
        if channel == "trade":
            return self._trades(frame, data)
        if channel in ("heartbeat", "status"):
            return [Alive()]
        method = frame.get("method")
        if method is not None:
            return self._reply(frame, method)
        if "error" in frame:
            return [Refused(None, f"Kraken: {frame.get('error')}")]
        return [NotUnderstood(f"unknown channel {channel!r}", text(data))]

    def _trades(self, frame: dict[str, Any], data: str | bytes) -> list[Event]:
        rows = frame.get("data")
        if type(rows) is not list:
            return [NotUnderstood("a trade message without a data list", text(data))]
        found: list[Event] = []
        ticks: list[Tick] = []
        for row in rows:
            native = row.get("symbol") if type(row) is dict else None
            symbol = self.spellings.symbol(native) if type(native) is str else None
            if symbol is None:
                found.append(NotUnderstood(f"a trade of a pair not subscribed: {native!r}", text(data)))
                continue
            try:
                ticks.append(
                    fields.tick(
                        symbol,
                        fields.rfc3339_ms(row.get("timestamp")),
                        fields.number(row.get("price"), "price"),
                        fields.number(row.get("qty"), "qty"),
                        _SIDES.get(row.get("side"), "unknown"),
                        fields.trade_id(row.get("trade_id")),
                    )
                )
            except InvalidTick as exc:
                found.append(BadTrade(f"Kraken trade of {symbol}: {exc}", orjson.dumps(row).decode()))
        if ticks:
            found.append(Trades(ticks, snapshot=frame.get("type") == "snapshot"))
        return found

    def _reply(self, frame: dict[str, Any], method: object) -> list[Event]:
        if method in ("pong", "unsubscribe"):
            return [Alive()]
        if method != "subscribe":
            return [Alive()] if frame.get("success") is not False else [Refused(None, f"Kraken: {frame.get('error')}")]
        result = frame.get("result")
        if frame.get("success") is True and type(result) is dict:
            symbol = result.get("symbol")
            return [Subscribed((symbol,))] if type(symbol) is str else [Alive()]
        native = frame.get("symbol")
        error = frame.get("error") or "subscription refused"
        if type(native) is str and self.spellings.symbol(native) is not None:
            return [Refused(native, f"Kraken: {error}")]
        named = [n for n in self.spellings if n in str(error)]
        return [Refused(n, f"Kraken: {error}") for n in named] or [Refused(None, f"Kraken: {error}")]


SPEC = ExchangeSpec(KRAKEN, LIMITS, KrakenProtocol, KrakenRest, DOCS)
