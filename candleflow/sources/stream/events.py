"""What a frame means to the connection, whatever the venue: the vocabulary every
exchange protocol's `parse` speaks and the connection acts on."""

from __future__ import annotations

from dataclasses import dataclass

from candleflow.domain.ticks import Tick


@dataclass(frozen=True, slots=True)
class Trades:
    """Trades in the order the venue sent them; `snapshot` marks the recent trades a
    venue repeats on subscribe (Coinbase, Kraken): they may be known already."""

    ticks: list[Tick]
    snapshot: bool = False


@dataclass(frozen=True, slots=True)
class BadTrade:
    """A trade frame that cannot be a tick: dead-lettered with the reason."""

    reason: str
    raw: str


@dataclass(frozen=True, slots=True)
class Subscribed:
    """The venue confirmed these pairs (its own spelling)."""

    natives: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Refused:
    """The venue refused a pair (or, with `native` None, a request it does not name);
    the other pairs go on."""

    native: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Alive:
    """A heartbeat, a pong, a status or acknowledgement: the connection works."""


@dataclass(frozen=True, slots=True)
class Reconnect:
    """The venue asks to reconnect (maintenance, a scheduled cut, a rate limit):
    close and open again after at least `min_delay` seconds."""

    reason: str
    min_delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Fatal:
    """Nothing will work until someone fixes the configuration (a refused API key)."""

    reason: str


@dataclass(frozen=True, slots=True)
class NotUnderstood:
    """A frame the protocol cannot read: counted, logged with its start, never guessed at."""

    reason: str
    raw: str


Event = Trades | BadTrade | Subscribed | Refused | Alive | Reconnect | Fatal | NotUnderstood
