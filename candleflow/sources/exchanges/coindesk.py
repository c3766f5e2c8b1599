"""The CoinDesk Data streamer (`wss://data-streamer.coindesk.com`), CryptoCompare's successor.

What its public material documents and this client relies on: the key goes in the URL
(`?api_key=`) and in an `Authorization: Apikey` header; a subscription is `{"action":
"SUBSCRIBE", "type": <stream>, "market": "coinbase", "instruments": ["BTC-USD"]}`;
control messages carry a numeric `TYPE`: 4000 session welcome, 4001 streamer error,
4002 rate limit, 4003 and 4004 subscription errors, 4005 subscription accepted, 4006
rejected, 4008 removed, 4010 warning, 4011 invalid API key, 4012 invalid message, 4013
heartbeat (every 30 s). Trades carry the fields of the REST trade (`MARKET`,
`INSTRUMENT`, `MAPPED_INSTRUMENT`, `BASE`, `QUOTE`, `SIDE`, `ID`, `TIMESTAMP`,
`TIMESTAMP_NS`, `QUANTITY`, `PRICE`, `CCSEQ`).

What it leaves open (docs/ingest.md says so too): the exact name of the spot trade
stream (a setting, `CANDLEFLOW_COINDESK_TRADE_STREAM`), the `TYPE` number of a trade
message, and the fields of control messages beyond `TYPE` and `MESSAGE`. So a frame is
a trade when it carries the trade fields, whatever its `TYPE`; a control message is read
by its `TYPE` alone; anything else is reported as not understood — logged with its text
and counted in `/healthz` — never guessed at.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
import orjson

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import EARLIEST_MS, Tick
from candleflow.domain.venues import COINDESK, Spellings
from candleflow.sources.exchanges.coindesk_rest import CoinDeskRest, trade
from candleflow.sources.exchanges.fields import FUTURE_MS
from candleflow.sources.exchanges.venue_protocol import VenueProtocol, json_object, text
from candleflow.sources.stream.events import (
    Alive,
    BadTrade,
    Event,
    Fatal,
    NotUnderstood,
    Reconnect,
    Refused,
    Subscribed,
    Trades,
)
from candleflow.sources.stream.protocol import ConnectionProtocol, ExchangeSpec, Limits, RestMarkets

DOCS = "https://developers.coindesk.com/documentation/data-streamer"
LIMITS = Limits(
    pairs_per_connection=500,
    messages_per_second=2.0,
    connects_per_second=0.5,
    silence=75.0,  # heartbeats every 30 s: two missed
    pairs_per_message=100,
)
TRADE_FIELDS = ("MARKET", "PRICE", "QUANTITY", "TIMESTAMP", "ID")
CONTROL = {
    "4000": "session welcome",
    "4001": "streamer error",
    "4002": "rate limit",
    "4003": "subscription error",
    "4004": "subscription error",
    "4005": "subscription accepted",
    "4006": "subscription rejected",
    "4008": "subscription removed",
    "4010": "warning",
    "4011": "invalid API key",
    "4012": "invalid message",
    "4013": "heartbeat",
}


class _Trade(msgspec.Struct, gc=False):
    """A trade with the documented fields: the fast path (anything else takes `_parse`)."""

    MARKET: str
    PRICE: Annotated[float, msgspec.Meta(gt=0.0)]
    QUANTITY: Annotated[float, msgspec.Meta(ge=0.0)]
    TIMESTAMP: Annotated[int, msgspec.Meta(ge=EARLIEST_MS // 1000)]
    ID: str
    MAPPED_INSTRUMENT: str = ""
    TIMESTAMP_NS: Annotated[int, msgspec.Meta(ge=0, lt=1_000_000_000)] = 0
    SIDE: str = ""


_TRADE = msgspec.json.Decoder(_Trade, strict=False).decode
_SIDES = {"BUY": "buy", "SELL": "sell"}


class CoinDeskProtocol(VenueProtocol):
    default_limits = LIMITS

    def __init__(
        self, base_url: str, spellings: Spellings, limits: Limits | None = None, *, key: str, stream: str
    ) -> None:
        super().__init__(base_url, spellings, limits)
        self.key = key
        self.stream = stream

    def url(self) -> str:
        joiner = "&" if "?" in self._url else ("?" if self._url.endswith("/") else "/?")
        return f"{self._url}{joiner}api_key={self.key}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Apikey {self.key}"}

    def subscribe(self) -> list[str]:
        by_market: dict[str, list[str]] = {}
        for native in self.spellings:
            market, _, instrument = native.partition(":")
            by_market.setdefault(market, []).append(instrument)
        size = self.limits.pairs_per_message
        return [
            orjson.dumps(
                {"action": "SUBSCRIBE", "type": self.stream, "market": market, "instruments": items[i : i + size]}
            ).decode()
            for market, items in by_market.items()
            for i in range(0, len(items), size)
        ]

    def parse(self, data: str | bytes) -> list[Event]:
        try:
            trade = _TRADE(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return self._parse(data)
        symbol = self.spellings.symbol(f"{trade.MARKET.lower()}:{trade.MAPPED_INSTRUMENT}")
        ts = trade.TIMESTAMP * 1000 + trade.TIMESTAMP_NS // 1_000_000
        if symbol is None or ts > time.time() * 1000 + FUTURE_MS:
            return self._parse(data)
        side = _SIDES.get(trade.SIDE, "unknown")
        return [Trades([Tick(symbol, ts, trade.PRICE, trade.QUANTITY, side, trade.ID)])]

    def _parse(self, data: str | bytes) -> list[Event]:
        """Every frame the fast path does not take, with the reasons when it is not a trade."""
        frame = json_object(data)
        if isinstance(frame, NotUnderstood):
            return [frame]
        if all(name in frame for name in TRADE_FIELDS):
            return [self._trade(frame, data)]
        kind = str(frame.get("TYPE", ""))
        if kind in CONTROL:
            return [self._control(kind, frame, data)]
        return [NotUnderstood(f"TYPE {kind or 'missing'} is not a documented message", text(data))]

    def _native(self, frame: dict[str, Any]) -> str | None:
        market = str(frame.get("MARKET", "")).lower()
        for instrument in (
            frame.get("MAPPED_INSTRUMENT"),
            f"{frame.get('BASE')}-{frame.get('QUOTE')}",
            frame.get("INSTRUMENT"),
        ):
            native = f"{market}:{instrument}"
            if self.spellings.symbol(native) is not None:
                return native
        return None

    def _trade(self, frame: dict[str, Any], data: str | bytes) -> Event:
        native = self._native(frame)
        symbol = self.spellings.symbol(native) if native is not None else None
        if symbol is None:
            return NotUnderstood("a trade of an instrument not subscribed", text(data))
        try:
            tick = trade(symbol, frame)
        except InvalidTick as exc:
            return BadTrade(f"CoinDesk trade of {symbol}: {exc}", text(data))
        return Trades([tick])

    def _control(self, kind: str, frame: dict[str, Any], data: str | bytes) -> Event:
        what = f"CoinDesk {kind} {CONTROL[kind]}: {frame.get('MESSAGE', '')} {frame.get('INFO', '') or ''}".strip()
        if kind in ("4000", "4013", "4010"):
            return Alive()
        if kind == "4005":
            named = tuple(n for n in self.spellings if n.partition(":")[2] in text(data))
            return Subscribed(named) if named else Alive()
        if kind == "4011":
            return Fatal(f"{what}: set CANDLEFLOW_COINDESK_API_KEY to a valid CoinDesk Data key")
        if kind == "4002":
            return Reconnect(what, 10.0)
        mentioned = [n for n in self.spellings if n.partition(":")[2] in text(data)]
        if kind in ("4003", "4004", "4006", "4008") and mentioned:
            return Refused(mentioned[0], what)
        return Refused(None, what)


def coindesk_spec(key: str, stream: str) -> ExchangeSpec:
    """The CoinDesk Data streamer with this API key and trade stream name."""

    def protocol(url: str, spellings: Spellings, limits: Limits) -> ConnectionProtocol:
        return CoinDeskProtocol(url, spellings, limits, key=key, stream=stream)

    rest: Callable[[str], RestMarkets] = lambda url: CoinDeskRest(url, key=key)  # noqa: E731
    return ExchangeSpec(COINDESK, LIMITS, protocol, rest, DOCS)
