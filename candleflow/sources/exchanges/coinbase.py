"""Coinbase Advanced Trade market data: the `market_trades` channel, kept open by `heartbeats`.

Documented at https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-channels
and .../websocket-overview (market data endpoint `wss://advanced-trade-ws.coinbase.com`,
no key needed for market data):

* one channel per subscribe message, sent within 5 seconds of connecting:
  `{"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "market_trades"}`;
  the server confirms with a `subscriptions` message listing each channel's products;
* `market_trades` messages carry `events`, each `{"type": "snapshot" | "update",
  "trades": [{"trade_id", "product_id", "price", "size", "side", "time"}]}`: a snapshot
  of recent trades on every subscribe (a reconnect repeats it), then updates batched
  every 250 ms; `side` is the taker's (BUY / SELL), prices and sizes are strings, `time`
  RFC 3339;
* channels without updates close after 60-90 s: the `heartbeats` channel beats every
  second (`heartbeat_counter`) and keeps them open, so a second of silence is news and
  ten are a dead connection;
* errors come as `{"type": "error", "message": ...}`; limits: 8 unauthenticated
  messages a second and 8 connections a second per address.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import orjson

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import EARLIEST_MS, Tick
from candleflow.domain.venues import COINBASE, Spellings
from candleflow.sources.exchanges.coinbase_rest import CoinbaseRest, trade
from candleflow.sources.exchanges.fields import EPOCH, FUTURE_MS, ONE_MS
from candleflow.sources.exchanges.venue_protocol import VenueProtocol, json_object, text
from candleflow.sources.stream.events import Alive, BadTrade, Event, NotUnderstood, Refused, Subscribed, Trades
from candleflow.sources.stream.protocol import ExchangeSpec, Limits

DOCS = "https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-channels"
LIMITS = Limits(
    pairs_per_connection=100,
    messages_per_second=4.0,  # 8 unauthenticated messages a second per address
    connects_per_second=2.0,
    silence=10.0,  # heartbeats come every second
)
TRADES, HEARTBEATS = "market_trades", "heartbeats"


class _Trade(msgspec.Struct, gc=False):
    trade_id: str
    product_id: str
    price: Annotated[float, msgspec.Meta(gt=0.0)]
    size: Annotated[float, msgspec.Meta(ge=0.0)]
    side: Literal["BUY", "SELL"]
    time: datetime


class _Event(msgspec.Struct, gc=False):
    type: Literal["snapshot", "update"]
    trades: list[_Trade]


class _Message(msgspec.Struct, gc=False):
    """A well-formed `market_trades` message: the fast path (anything else takes `_parse`)."""

    channel: Literal["market_trades"]
    events: list[_Event]


_MESSAGE = msgspec.json.Decoder(_Message, strict=False).decode


class CoinbaseProtocol(VenueProtocol):
    default_limits = LIMITS

    def __init__(self, base_url: str, spellings: Spellings, limits: Limits | None = None) -> None:
        super().__init__(base_url, spellings, limits)
        self._symbols = {native: spellings.symbol(native) for native in spellings}

    def subscribe(self) -> list[str]:
        products = list(self.spellings)
        return [
            orjson.dumps({"type": "subscribe", "product_ids": products, "channel": channel}).decode()
            for channel in (TRADES, HEARTBEATS)
        ]

    def parse(self, data: str | bytes) -> list[Event]:
        try:
            message = _MESSAGE(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return self._parse(data)
        found: list[Event] = []
        latest = time.time() * 1000 + FUTURE_MS
        symbol_of = self._symbols.get
        for event in message.events:
            ticks = []
            for row in event.trades:
                symbol = symbol_of(row.product_id)
                if symbol is None or row.time.tzinfo is None:
                    return self._parse(data)
                ts = (row.time - EPOCH) // ONE_MS
                if ts > latest or ts < EARLIEST_MS:
                    return self._parse(data)
                ticks.append(
                    Tick(symbol, ts, row.price, row.size, "buy" if row.side == "BUY" else "sell", row.trade_id)
                )
            found.append(Trades(ticks, snapshot=event.type == "snapshot"))
        return found

    def _parse(self, data: str | bytes) -> list[Event]:
        """Every frame the fast path does not take, with the reasons when it is not a trade."""
        frame = json_object(data)
        if isinstance(frame, NotUnderstood):
            return [frame]
        channel = frame.get("channel")
        if channel == TRADES:
            return self._trades(frame, data)
        if channel == HEARTBEATS:
            return [Alive()]
        if channel == "subscriptions":
            return self._subscriptions(frame)
        if frame.get("type") == "error":
            return self._error(frame)
        return [NotUnderstood(f"unknown channel {channel!r}", text(data))]

    def _trades(self, frame: dict[str, Any], data: str | bytes) -> list[Event]:
        events = frame.get("events")
        if type(events) is not list:
            return [NotUnderstood("market_trades without an events list", text(data))]
        found: list[Event] = []
        for event in events:
            rows = event.get("trades") if type(event) is dict else None
            if type(rows) is not list:
                found.append(NotUnderstood("a market_trades event without trades", text(data)))
                continue
            ticks: list[Tick] = []
            for row in rows:
                product = row.get("product_id") if type(row) is dict else None
                symbol = self.spellings.symbol(product) if type(product) is str else None
                if symbol is None:
                    found.append(NotUnderstood(f"a trade of a product not subscribed: {product!r}", text(data)))
                    continue
                try:
                    ticks.append(trade(symbol, row))
                except InvalidTick as exc:
                    found.append(BadTrade(f"Coinbase trade of {symbol}: {exc}", orjson.dumps(row).decode()))
            if ticks:
                found.append(Trades(ticks, snapshot=event.get("type") == "snapshot"))
        return found

    def _subscriptions(self, frame: dict[str, Any]) -> list[Event]:
        confirmed: list[str] = []
        for event in frame.get("events") or []:
            channels = event.get("subscriptions") if type(event) is dict else None
            if type(channels) is dict and type(channels.get(TRADES)) is list:
                confirmed.extend(p for p in channels[TRADES] if type(p) is str)
        return [Subscribed(tuple(confirmed))] if confirmed else [Alive()]

    def _error(self, frame: dict[str, Any]) -> list[Event]:
        message = str(frame.get("message") or frame.get("reason") or "error without a message")
        named = [native for native in self.spellings if native in message]
        if named:
            return [Refused(native, f"Coinbase: {message}") for native in named]
        return [Refused(None, f"Coinbase: {message}")]


SPEC = ExchangeSpec(COINBASE, LIMITS, CoinbaseProtocol, CoinbaseRest, DOCS)
