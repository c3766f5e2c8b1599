"""Bitstamp websocket v2: the `live_trades_<pair>` channels.

Documented at https://www.bitstamp.net/websocket/v2/ (endpoint `wss://ws.bitstamp.net`):

* `{"event": "bts:subscribe", "data": {"channel": "live_trades_btcusd"}}`, one message
  per channel, answered `{"event": "bts:subscription_succeeded", "channel": ...}`;
* trades `{"event": "trade", "channel": "live_trades_btcusd", "data": {"id",
  "timestamp", "microtimestamp", "amount", "price", "type", ...}}` with `type` 0 for a
  buy and 1 for a sell (the taker's side) and `microtimestamp` in microseconds;
* the client's `{"event": "bts:heartbeat"}` is answered by a `bts:heartbeat` event, which
  tells a quiet market from a dead connection;
* `{"event": "bts:request_reconnect"}` asks the client to reconnect (the server is about
  to go away); `{"event": "bts:error", "data": {"code", "message"}}` reports a refusal.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import msgspec
import orjson

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import EARLIEST_MS, Tick
from candleflow.domain.venues import BITSTAMP, Spellings
from candleflow.sources.exchanges import fields
from candleflow.sources.exchanges.bitstamp_rest import BitstampRest
from candleflow.sources.exchanges.fields import FUTURE_MS
from candleflow.sources.exchanges.venue_protocol import VenueProtocol, json_object, text
from candleflow.sources.stream.events import (
    Alive,
    BadTrade,
    Event,
    NotUnderstood,
    Reconnect,
    Refused,
    Subscribed,
    Trades,
)
from candleflow.sources.stream.protocol import ExchangeSpec, Limits

DOCS = "https://www.bitstamp.net/websocket/v2/"
LIMITS = Limits(
    pairs_per_connection=100,
    messages_per_second=5.0,
    connects_per_second=1.0,
    silence=30.0,
    ping_interval=10.0,
)
PREFIX = "live_trades_"
_SIDES = {0: "buy", 1: "sell"}


class _Data(msgspec.Struct, gc=False):
    id: int
    microtimestamp: Annotated[int, msgspec.Meta(ge=EARLIEST_MS * 1000)]
    price_str: Annotated[float, msgspec.Meta(gt=0.0)]
    amount_str: Annotated[float, msgspec.Meta(ge=0.0)]
    type: Literal[0, 1]


class _Trade(msgspec.Struct, gc=False):
    """A well-formed `trade` event: the fast path (anything else takes `_parse`)."""

    event: Literal["trade"]
    channel: str
    data: _Data


_TRADE = msgspec.json.Decoder(_Trade, strict=False).decode


class BitstampProtocol(VenueProtocol):
    default_limits = LIMITS

    def __init__(self, base_url: str, spellings: Spellings, limits: Limits | None = None) -> None:
        super().__init__(base_url, spellings, limits)

    def subscribe(self) -> list[str]:
        return [
            orjson.dumps({"event": "bts:subscribe", "data": {"channel": PREFIX + native}}).decode()
            for native in self.spellings
        ]

    def ping(self) -> str | None:
        return '{"event":"bts:heartbeat"}'

    def _native(self, channel: object) -> str | None:
        if type(channel) is str and channel.startswith(PREFIX):
            native = channel[len(PREFIX) :]
            return native if self.spellings.symbol(native) is not None else None
        return None

    def parse(self, data: str | bytes) -> list[Event]:
        try:
            trade = _TRADE(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return self._parse(data)
        native = self._native(trade.channel)
        symbol = self.spellings.symbol(native) if native is not None else None
        row = trade.data
        ts = row.microtimestamp // 1000
        if symbol is None or ts > time.time() * 1000 + FUTURE_MS:
            return self._parse(data)
        return [Trades([Tick(symbol, ts, row.price_str, row.amount_str, "buy" if row.type == 0 else "sell",
                             str(row.id))])]  # fmt: skip

    def _parse(self, data: str | bytes) -> list[Event]:
        """Every frame the fast path does not take, with the reasons when it is not a trade."""
        frame = json_object(data)
        if isinstance(frame, NotUnderstood):
            return [frame]
        event = frame.get("event")
        if event == "trade":
            return [self._trade(frame, data)]
        if event == "bts:heartbeat":
            return [Alive()]
        if event == "bts:subscription_succeeded":
            native = self._native(frame.get("channel"))
            return [Subscribed((native,))] if native is not None else [Alive()]
        if event == "bts:request_reconnect":
            return [Reconnect("Bitstamp asked for a reconnect")]
        if event == "bts:error":
            return [self._error(frame)]
        if event == "bts:unsubscription_succeeded":
            return [Alive()]
        return [NotUnderstood(f"unknown event {event!r}", text(data))]

    def _trade(self, frame: dict[str, Any], data: str | bytes) -> Event:
        native = self._native(frame.get("channel"))
        symbol = self.spellings.symbol(native) if native is not None else None
        if symbol is None:
            return NotUnderstood(f"a trade on a channel not subscribed: {frame.get('channel')!r}", text(data))
        trade = frame.get("data")
        try:
            if type(trade) is not dict:
                raise InvalidTick("the trade's data is not an object")
            tick = fields.tick(
                symbol,
                _time_ms(trade),
                fields.number(trade.get("price_str", trade.get("price")), "price"),
                fields.number(trade.get("amount_str", trade.get("amount")), "amount"),
                _SIDES.get(trade.get("type"), "unknown"),  # type: ignore[arg-type]
                fields.trade_id(trade.get("id")),
            )
        except InvalidTick as exc:
            return BadTrade(f"Bitstamp trade of {symbol}: {exc}", text(data))
        return Trades([tick])

    def _error(self, frame: dict[str, Any]) -> Event:
        details = frame.get("data") if type(frame.get("data")) is dict else {}
        assert isinstance(details, dict)
        message = f"Bitstamp error {details.get('code')}: {details.get('message')}"
        native = self._native(frame.get("channel"))
        if native is None:
            native = next((n for n in self.spellings if PREFIX + n in str(details.get("message"))), None)
        return Refused(native, message)


def _time_ms(trade: dict[str, Any]) -> int:
    micro = trade.get("microtimestamp")
    if micro is not None:
        return fields.integer(micro, "microtimestamp") // 1000
    return fields.integer(trade.get("timestamp"), "timestamp") * 1000


SPEC = ExchangeSpec(BITSTAMP, LIMITS, BitstampProtocol, BitstampRest, DOCS)
