"""CryptoCompare streamer frames, parsed without I/O: the one place that knows the wire.

The legacy v2 streamer (`wss://streamer.cryptocompare.com/v2`) speaks JSON objects with a
string `TYPE`. `LegacyDialect` turns each frame into one typed event of
`cryptocompare_events` (`Trade`, `Welcome`, `Heartbeat`, `Unauthorized`, `RateLimited`,
`StreamerError`, ...) and builds the `SubAdd` / `SubRemove` requests. The client only ever talks to a `Dialect`, so the
newer CoinDesk streamer can be added as a second implementation beside this one.

Trade channels are written `0~{exchange}~{base}~{quote}` and map one to one onto
candleflow symbols `{exchange}:{base}/{quote}`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import orjson

from candleflow.domain.exceptions import InvalidSymbol, InvalidTick
from candleflow.domain.symbols import parse_symbol
from candleflow.domain.ticks import validate_tick
from candleflow.sources.cryptocompare_events import (
    BadTrade,
    Event,
    Heartbeat,
    LoadComplete,
    Other,
    RateLimited,
    StreamerError,
    SubscribeComplete,
    Trade,
    Unauthorized,
    UnsubscribeAllComplete,
    UnsubscribeComplete,
    Welcome,
)
from candleflow.sources.exceptions import ProtocolError

TRADE_CHANNEL = "0"

#: `F` bits of a trade. `REVERSED` marks a pair CryptoCompare inverted for the exchange;
#: Q and P are already given in the channel's base/quote.
FLAG_SELL = 1
FLAG_BUY = 2
FLAG_UNKNOWN = 4
FLAG_REVERSED = 8


class Dialect(Protocol):
    """What the client needs from a streamer protocol."""

    name: str

    def channel(self, symbol: str) -> str: ...

    def symbol(self, channel: str) -> str: ...

    def subscribe(self, channels: Iterable[str]) -> bytes: ...

    def unsubscribe(self, channels: Iterable[str]) -> bytes: ...

    def parse(self, text: str | bytes, *, now_ms: int | None = None, future_tolerance_s: float = 300.0) -> Event: ...


# ------------------------------------------------------------------------- channels


def trade_channel(symbol: str) -> str:
    """`Coinbase:BTC/USD` -> `0~Coinbase~BTC~USD`."""
    exchange, base, quote = parse_symbol(symbol)
    return f"{TRADE_CHANNEL}~{exchange}~{base}~{quote}"


def channel_symbol(channel: str) -> str:
    """`0~Coinbase~BTC~USD` -> `Coinbase:BTC/USD`; `InvalidSymbol` for anything else."""
    parts = channel.split("~")
    if len(parts) != 4 or parts[0] != TRADE_CHANNEL:
        raise InvalidSymbol(f"{channel!r} is not a trade channel 0~EXCHANGE~BASE~QUOTE")
    return str(parse_symbol(f"{parts[1]}:{parts[2]}/{parts[3]}"))


def side_from_flags(flags: int) -> str:
    """`F` bitmask -> `buy`, `sell` or `unknown` (both or neither side bit: unknown)."""
    sell, buy = bool(flags & FLAG_SELL), bool(flags & FLAG_BUY)
    if sell and not buy:
        return "sell"
    if buy and not sell:
        return "buy"
    return "unknown"


def trade_time_ms(ts: object, tsns: object = None) -> int:
    """`TS` (seconds) plus `TSNS` (nanoseconds within that second) as integer milliseconds."""
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise InvalidTick(f"TS is not a number of seconds: {ts!r}")
    if isinstance(ts, float):
        if not math.isfinite(ts):
            raise InvalidTick(f"TS is not finite: {ts!r}")
        if ts.is_integer():
            ts = int(ts)
        else:  # fractional seconds: round to the millisecond, ignore TSNS
            return round(ts * 1000)
    millis = ts * 1000
    if tsns is None:
        return millis
    if isinstance(tsns, bool) or not isinstance(tsns, int) or not 0 <= tsns < 1_000_000_000:
        raise InvalidTick(f"TSNS is not nanoseconds within a second: {tsns!r}")
    return millis + tsns // 1_000_000


def _flags(value: object) -> int:
    if isinstance(value, bool):
        raise InvalidTick(f"F is not a flag bitmask: {value!r}")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise InvalidTick(f"F is not a flag bitmask: {value!r}")


def _text(frame: Mapping[str, Any], name: str) -> str:
    value = frame.get(name)
    return value if isinstance(value, str) else ""


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


# -------------------------------------------------------------------------- parsing


def parse_trade(
    frame: Mapping[str, Any], raw: str, *, now_ms: int | None = None, future_tolerance_s: float = 300.0
) -> Trade | BadTrade:
    """A TYPE 0 frame -> `Trade`, or `BadTrade` with the dead-letter reason."""
    market, base, quote = frame.get("M"), frame.get("FSYM"), frame.get("TSYM")
    channel = None
    if all(isinstance(v, str) for v in (market, base, quote)):
        channel = f"{TRADE_CHANNEL}~{market}~{base}~{quote}"
    try:
        if channel is None:
            raise InvalidTick(f"trade without M/FSYM/TSYM strings: {market!r} {base!r} {quote!r}")
        flags = _flags(frame.get("F", FLAG_UNKNOWN))
        trade_id = frame.get("ID")
        record = {
            "symbol": f"{market}:{base}/{quote}",
            "ts": trade_time_ms(frame.get("TS"), frame.get("TSNS")),
            "price": frame.get("P"),
            "qty": frame.get("Q"),
            "side": side_from_flags(flags),
            "id": trade_id if trade_id not in (None, "") else None,
        }
        tick = validate_tick(record, now_ms=now_ms, future_tolerance_s=future_tolerance_s)
    except InvalidTick as exc:
        raw_id = frame.get("ID")
        trade_id = str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
        return BadTrade(reason=str(exc), raw=raw, channel=channel, trade_id=trade_id)
    assert channel is not None
    return Trade(channel=channel, tick=tick, flags=flags, ccseq=_int_or_none(frame.get("CCSEQ")))


def _welcome(frame: Mapping[str, Any]) -> Welcome:
    limits = {
        key: value
        for key, value in frame.items()
        if key.startswith("RATELIMIT_") and isinstance(value, int) and not isinstance(value, bool)
    }
    return Welcome(
        sockets_active=_int_or_none(frame.get("SOCKETS_ACTIVE")),
        sockets_remaining=_int_or_none(frame.get("SOCKETS_REMAINING")),
        rate_limits=limits,
        server=_text(frame, "SERVER_NAME") or None,
    )


def parse_frame(text: str | bytes, *, now_ms: int | None = None, future_tolerance_s: float = 300.0) -> Event:
    """One legacy streamer frame -> one event. Raises `ProtocolError` for non-frames."""
    raw = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"streamer frame is not JSON ({exc}): {raw[:200]!r}") from None
    if not isinstance(frame, dict):
        raise ProtocolError(f"streamer frame is not a JSON object: {raw[:200]!r}")
    kind = frame.get("TYPE")
    if isinstance(kind, int) and not isinstance(kind, bool):
        kind = str(kind)
    if not isinstance(kind, str):
        raise ProtocolError(f"streamer frame without a string TYPE: {raw[:200]!r}")
    message, info = _text(frame, "MESSAGE"), _text(frame, "INFO")
    parameter = frame.get("PARAMETER") if isinstance(frame.get("PARAMETER"), str) else None
    match kind:
        case "0":
            return parse_trade(frame, raw, now_ms=now_ms, future_tolerance_s=future_tolerance_s)
        case "20":
            return _welcome(frame)
        case "16":
            return SubscribeComplete(channel=_text(frame, "SUB"))
        case "17":
            return UnsubscribeComplete(channel=_text(frame, "SUB"))
        case "3":
            return LoadComplete(info=info)
        case "18":
            return UnsubscribeAllComplete(info=info)
        case "999":
            return Heartbeat(time_ms=_int_or_none(frame.get("TIMEMS")))
        case "401":
            return Unauthorized(message=message or "UNAUTHORIZED", info=info)
        case "429":
            return RateLimited(message=message, info=info, parameter=parameter)
        case "500":
            return StreamerError(message=message, parameter=parameter, info=info)
        case _:
            return Other(type=kind, raw=raw)


def _request(action: str, channels: Iterable[str]) -> bytes:
    return orjson.dumps({"action": action, "subs": list(channels)})


class LegacyDialect:
    """CryptoCompare's v2 streamer (`wss://streamer.cryptocompare.com/v2?api_key=...`)."""

    name = "cryptocompare-v2"

    def channel(self, symbol: str) -> str:
        return trade_channel(symbol)

    def symbol(self, channel: str) -> str:
        return channel_symbol(channel)

    def subscribe(self, channels: Iterable[str]) -> bytes:
        return _request("SubAdd", channels)

    def unsubscribe(self, channels: Iterable[str]) -> bytes:
        return _request("SubRemove", channels)

    def parse(self, text: str | bytes, *, now_ms: int | None = None, future_tolerance_s: float = 300.0) -> Event:
        return parse_frame(text, now_ms=now_ms, future_tolerance_s=future_tolerance_s)


__all__ = [
    "BadTrade",
    "Dialect",
    "Event",
    "Heartbeat",
    "LegacyDialect",
    "LoadComplete",
    "Other",
    "RateLimited",
    "StreamerError",
    "SubscribeComplete",
    "Trade",
    "Unauthorized",
    "UnsubscribeAllComplete",
    "UnsubscribeComplete",
    "Welcome",
    "channel_symbol",
    "parse_frame",
    "parse_trade",
    "side_from_flags",
    "trade_channel",
    "trade_time_ms",
]
