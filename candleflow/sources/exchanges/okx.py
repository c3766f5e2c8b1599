"""OKX v5 public websocket: the `trades` channel.

Documented at https://www.okx.com/docs-v5/en/#overview-websocket and
https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-trades-channel
(endpoint `wss://ws.okx.com:8443/ws/v5/public`):

* `{"op": "subscribe", "args": [{"channel": "trades", "instId": "BTC-USDT"}]}`, answered
  per argument by `{"event": "subscribe", "arg": {...}, "connId": ...}`; failures by
  `{"event": "error", "code": "60018", "msg": "... doesn't exist", "connId": ...}`;
* pushes `{"arg": {"channel": "trades", "instId": ...}, "data": [{"instId", "tradeId",
  "px", "sz", "side", "ts", "count"}]}` (strings; `ts` in ms; one push may aggregate
  several fills of one taker order at one price: `count` of them, `tradeId` the last);
* a connection with no subscription or no push for 30 s is closed: the client sends the
  text `ping` when it has been idle and expects `pong`;
* `{"event": "notice", "code": "64008", ...}` announces a service upgrade: reconnect;
* limits: 3 connection requests a second per address, 480 subscribe/unsubscribe/login
  requests an hour per connection, 64 KB per subscribe request.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import msgspec
import orjson

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import EARLIEST_MS, Tick
from candleflow.domain.venues import OKX, Spellings
from candleflow.sources.exchanges.fields import FUTURE_MS
from candleflow.sources.exchanges.okx_rest import OkxRest, trade
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

DOCS = "https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-trades-channel"
LIMITS = Limits(
    pairs_per_connection=200,
    messages_per_second=2.0,
    connects_per_second=1.0,  # 3 a second per address
    silence=40.0,
    ping_interval=20.0,  # under the venue's 30 s idle cut
    pairs_per_message=100,
)


class _Arg(msgspec.Struct, gc=False):
    channel: Literal["trades"]
    instId: str


class _Row(msgspec.Struct, gc=False):
    instId: str
    tradeId: str
    px: Annotated[float, msgspec.Meta(gt=0.0)]
    sz: Annotated[float, msgspec.Meta(ge=0.0)]
    side: Literal["buy", "sell"]
    ts: Annotated[int, msgspec.Meta(ge=EARLIEST_MS)]


class _Push(msgspec.Struct, gc=False):
    """A well-formed `trades` push: the fast path (anything else takes `_parse`)."""

    arg: _Arg
    data: list[_Row]


_PUSH = msgspec.json.Decoder(_Push, strict=False).decode


class OkxProtocol(VenueProtocol):
    default_limits = LIMITS

    def __init__(self, base_url: str, spellings: Spellings, limits: Limits | None = None) -> None:
        super().__init__(base_url, spellings, limits)

    def subscribe(self) -> list[str]:
        natives = list(self.spellings)
        size = self.limits.pairs_per_message
        return [
            orjson.dumps(
                {"op": "subscribe", "args": [{"channel": "trades", "instId": n} for n in natives[i : i + size]]}
            ).decode()
            for i in range(0, len(natives), size)
        ]

    def ping(self) -> str | None:
        return "ping"

    def parse(self, data: str | bytes) -> list[Event]:
        if data in ("pong", b"pong"):
            return [Alive()]
        try:
            push = _PUSH(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return self._parse(data)
        latest = time.time() * 1000 + FUTURE_MS
        ticks = []
        for row in push.data:
            symbol = self.spellings.symbol(row.instId)
            if symbol is None or row.ts > latest:
                return self._parse(data)
            ticks.append(Tick(symbol, row.ts, row.px, row.sz, row.side, row.tradeId))
        return [Trades(ticks)] if ticks else [Alive()]

    def _parse(self, data: str | bytes) -> list[Event]:
        """Every frame the fast path does not take, with the reasons when it is not a trade."""
        frame = json_object(data)
        if isinstance(frame, NotUnderstood):
            return [frame]
        if "data" in frame:
            return self._push(frame, data)
        event = frame.get("event")
        if event == "subscribe":
            arg = frame.get("arg")
            native = arg.get("instId") if type(arg) is dict else None
            return [Subscribed((native,))] if type(native) is str else [Alive()]
        if event == "error":
            message = f"OKX error {frame.get('code')}: {frame.get('msg')}"
            named = [n for n in self.spellings if n in str(frame.get("msg"))]
            return [Refused(n, message) for n in named] or [Refused(None, message)]
        if event == "notice":
            return [Reconnect(f"OKX notice {frame.get('code')}: {frame.get('msg')}")]
        if event in ("unsubscribe", "channel-conn-count"):
            return [Alive()]
        return [NotUnderstood(f"unknown event {event!r}", text(data))]

    def _push(self, frame: dict[str, Any], data: str | bytes) -> list[Event]:
        arg = frame.get("arg")
        rows = frame.get("data")
        if type(arg) is not dict or arg.get("channel") != "trades" or type(rows) is not list:
            return [NotUnderstood("a push that is not of the trades channel", text(data))]
        found: list[Event] = []
        ticks = []
        for row in rows:
            native = row.get("instId") if type(row) is dict else None
            symbol = self.spellings.symbol(native) if type(native) is str else None
            if symbol is None:
                found.append(NotUnderstood(f"a trade of an instrument not subscribed: {native!r}", text(data)))
                continue
            try:
                ticks.append(trade(symbol, row))
            except InvalidTick as exc:
                found.append(BadTrade(f"OKX trade of {symbol}: {exc}", orjson.dumps(row).decode()))
        if ticks:
            found.append(Trades(ticks))
        return found


SPEC = ExchangeSpec(OKX, LIMITS, OkxProtocol, OkxRest, DOCS, aggregated_live=True)
