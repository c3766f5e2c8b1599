"""The typed events a CryptoCompare streamer frame becomes, without the parsing.

`cryptocompare_protocol` turns frames into these; the client (`cryptocompare`) acts on
them. Kept apart so the vocabulary reads in one place and a second dialect can produce
the same events.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from candleflow.domain.ticks import Tick


@dataclass(frozen=True, slots=True)
class Trade:
    """A TYPE 0 trade, normalised and validated."""

    channel: str
    tick: Tick
    flags: int
    ccseq: int | None = None


@dataclass(frozen=True, slots=True)
class BadTrade:
    """A TYPE 0 frame that cannot be a tick: it goes to the dead-letter topic."""

    reason: str
    raw: str
    channel: str | None = None
    trade_id: str | None = None  # lets a client drop the same bad trade replayed twice


@dataclass(frozen=True, slots=True)
class Welcome:
    """TYPE 20 STREAMERWELCOME: socket counts and rate-limit maxima/remainders."""

    sockets_active: int | None
    sockets_remaining: int | None
    rate_limits: Mapping[str, int] = field(default_factory=dict)
    server: str | None = None


@dataclass(frozen=True, slots=True)
class SubscribeComplete:
    """TYPE 16: one channel is live."""

    channel: str


@dataclass(frozen=True, slots=True)
class UnsubscribeComplete:
    """TYPE 17: one channel was removed."""

    channel: str


@dataclass(frozen=True, slots=True)
class LoadComplete:
    """TYPE 3: every valid channel of the last SubAdd is loaded."""

    info: str


@dataclass(frozen=True, slots=True)
class UnsubscribeAllComplete:
    """TYPE 18: every channel was removed."""

    info: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """TYPE 999: the streamer is alive (every 30-60 s)."""

    time_ms: int | None


@dataclass(frozen=True, slots=True)
class Unauthorized:
    """TYPE 401: the API key is missing, wrong or not allowed to stream."""

    message: str
    info: str


@dataclass(frozen=True, slots=True)
class RateLimited:
    """TYPE 429: too many sockets, opening too fast, or too many subscriptions."""

    message: str
    info: str
    parameter: str | None

    @property
    def kind(self) -> str:
        """`opening_too_fast`, `too_many_sockets`, `too_many_subscriptions` or `other`."""
        if self.message.startswith("RATE_LIMIT_OPENING_SOCKETS_TOO_FAST"):
            return "opening_too_fast"
        if self.message.startswith("TOO_MANY_SOCKETS"):
            return "too_many_sockets"
        if self.message.startswith("TOO_MANY_SUBSCRIPTIONS"):
            return "too_many_subscriptions"
        return "other"

    @property
    def limit(self) -> int | None:
        """The `{n}` of `TOO_MANY_..._MAX_{n}_PER_...`, when the message carries one."""
        match = re.search(r"_MAX_(\d+)_", self.message)
        return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class StreamerError:
    """TYPE 500: `INVALID_SUB`, `INVALID_JSON`, `FORCE_DISCONNECT`, ... with the culprit."""

    message: str
    parameter: str | None
    info: str

    @property
    def is_channel_error(self) -> bool:
        """The error concerns one channel (`PARAMETER`); the others carry on."""
        return self.message in CHANNEL_ERRORS

    @property
    def is_disconnect(self) -> bool:
        return self.message == "FORCE_DISCONNECT"


@dataclass(frozen=True, slots=True)
class Other:
    """A frame this client does not consume (ticker, aggregate index, OHLC, unknown)."""

    type: str
    raw: str


CHANNEL_ERRORS = frozenset(
    {"INVALID_SUB", "INVALID_PARAMETER", "SUBSCRIPTION_UNRECOGNIZED", "SUBSCRIPTION_ALREADY_ACTIVE"}
)

Event = (
    Trade
    | BadTrade
    | Welcome
    | SubscribeComplete
    | UnsubscribeComplete
    | LoadComplete
    | UnsubscribeAllComplete
    | Heartbeat
    | Unauthorized
    | RateLimited
    | StreamerError
    | Other
)
