"""Binance spot market streams: the `<symbol>@trade` stream of each market.

Documented in binance/binance-spot-api-docs, `web-socket-streams.md`
(https://github.com/binance/binance-spot-api-docs/blob/master/web-socket-streams.md):

* raw streams at `/ws`; `{"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}`
  is answered `{"result": null, "id": 1}`; errors come as `{"code": n, "msg": ...}`
  (with the request's `id` when it has one);
* a trade: `e` "trade", `E` event time, `s` symbol, `t` trade id, `p` price and `q`
  quantity as strings, `T` trade time (ms), `m` true when the buyer is the maker (the
  taker sold);
* the server pings every 20 s and drops a client whose pong does not come within a
  minute (the connection answers ping frames); a connection lives 24 hours at most, and
  a `serverShutdown` event announces maintenance: both reconnect at once;
* limits: 5 incoming messages a second per connection (pongs included), 1,024 streams
  per connection, 300 connection attempts per 5 minutes per address.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec
import orjson

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import EARLIEST_MS, Tick
from candleflow.domain.venues import BINANCE, Spellings
from candleflow.sources.exchanges import fields
from candleflow.sources.exchanges.binance_rest import BinanceRest
from candleflow.sources.exchanges.fields import FUTURE_MS
from candleflow.sources.exchanges.venue_protocol import VenueProtocol, json_value, text
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

DOCS = "https://github.com/binance/binance-spot-api-docs/blob/master/web-socket-streams.md"
LIMITS = Limits(
    pairs_per_connection=1024,
    messages_per_second=4.0,  # the venue allows 5, pongs included
    connects_per_second=1.0,  # 300 per 5 minutes
    silence=70.0,  # three missed server pings
    max_age=23.9 * 3600,  # renewed just before the venue's 24-hour cut
    pairs_per_message=200,
)
STREAM = "@trade"


def stream_url(base: str) -> str:
    """The raw-stream endpoint: `/ws` under `base`, unless `base` names one already."""
    path = urlsplit(base).path.rstrip("/")
    if path.endswith("/ws") or path.endswith("/stream"):
        return base
    return base.rstrip("/") + "/ws"


class TradeEvent(msgspec.Struct, gc=False):
    """The well-formed `@trade` event: the fast path (anything else takes `_parse`)."""

    e: Literal["trade"]
    s: str
    t: int
    p: Annotated[float, msgspec.Meta(gt=0.0)]
    q: Annotated[float, msgspec.Meta(ge=0.0)]
    T: Annotated[int, msgspec.Meta(ge=EARLIEST_MS)]
    m: bool


_TRADE = msgspec.json.Decoder(TradeEvent, strict=False).decode


class BinanceProtocol(VenueProtocol):
    default_limits = LIMITS

    def __init__(self, base_url: str, spellings: Spellings, limits: Limits | None = None) -> None:
        super().__init__(stream_url(base_url), spellings, limits)
        self._requests: dict[int, tuple[str, ...]] = {}
        self._by_symbol = {native.upper(): spellings.symbol(native) for native in spellings}

    def subscribe(self) -> list[str]:
        natives = list(self.spellings)
        size = self.limits.pairs_per_message
        messages = []
        for number, start in enumerate(range(0, len(natives), size), start=1):
            batch = tuple(natives[start : start + size])
            self._requests[number] = batch
            params = [native + STREAM for native in batch]
            messages.append(orjson.dumps({"method": "SUBSCRIBE", "params": params, "id": number}).decode())
        return messages

    def parse(self, data: str | bytes) -> list[Event]:
        try:
            trade = _TRADE(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return self._parse(data)
        symbol = self._by_symbol.get(trade.s)
        if symbol is None or time.time() * 1000 + FUTURE_MS < trade.T:
            return self._parse(data)
        return [Trades([Tick(symbol, trade.T, trade.p, trade.q, "sell" if trade.m else "buy", str(trade.t))])]

    def _parse(self, data: str | bytes) -> list[Event]:
        """Every frame the fast path does not take, with the reasons when it is not a trade."""
        frame = json_value(data)
        if isinstance(frame, NotUnderstood):
            return [frame]
        if type(frame) is dict and "stream" in frame and type(frame.get("data")) is dict:
            frame = frame["data"]  # a combined stream's envelope
        if type(frame) is not dict:
            return [NotUnderstood("not a JSON object", text(data))]
        kind = frame.get("e")
        if kind == "trade":
            return [self._trade(frame, data)]
        if kind == "serverShutdown":
            return [Reconnect("Binance announced a server shutdown")]
        if "result" in frame and "id" in frame:
            batch = self._requests.get(frame["id"])
            return [Subscribed(batch)] if batch is not None and frame["result"] is None else [Alive()]
        if "code" in frame or "error" in frame:
            return self._error(frame, data)
        return [NotUnderstood(f"unknown event {kind!r}" if kind else "no event type", text(data))]

    def _trade(self, frame: dict[str, object], data: str | bytes) -> Event:
        native = frame.get("s")
        symbol = self.spellings.symbol(native.lower()) if type(native) is str else None
        if symbol is None:
            return NotUnderstood(f"a trade of a market not subscribed: {native!r}", text(data))
        try:
            maker = frame.get("m")
            if type(maker) is not bool:
                raise InvalidTick(f"m (buyer is maker) is not true/false: {maker!r}")
            tick = fields.tick(
                symbol,
                fields.integer(frame.get("T"), "T (trade time)"),
                fields.number(frame.get("p"), "p (price)"),
                fields.number(frame.get("q"), "q (quantity)"),
                "sell" if maker else "buy",
                fields.trade_id(frame.get("t")),
            )
        except InvalidTick as exc:
            return BadTrade(f"Binance trade of {symbol}: {exc}", text(data))
        return Trades([tick])

    def _error(self, frame: dict[str, object], data: str | bytes) -> list[Event]:
        error = frame.get("error") if type(frame.get("error")) is dict else frame
        assert isinstance(error, dict)
        reason = f"Binance error {error.get('code')}: {error.get('msg')}"
        request = frame.get("id")
        batch = self._requests.get(request) if type(request) is int else None
        if batch:
            return [Refused(native, f"{reason} (subscribing {native}{STREAM})") for native in batch]
        return [Refused(None, reason)]


SPEC = ExchangeSpec(BINANCE, LIMITS, BinanceProtocol, BinanceRest, DOCS)
