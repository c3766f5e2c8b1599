"""What the shared connection needs from a venue: its limits, and per connection a
protocol object that writes the frames to send and reads the frames received.

A venue module (`candleflow.sources.exchanges.binance`, ...) is pure: it builds its
subscribe and ping messages and turns each received frame into `events`, and knows
nothing of sockets, clocks or Kafka. Its REST module (`..._rest`) answers the two
questions a source asks before and between connections: which markets exist with what
tick size, and which trades happened since a moment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from candleflow.domain.ticks import Tick
from candleflow.domain.venues import Spellings, Venue
from candleflow.sources.stream.events import Event


@dataclass(frozen=True, slots=True)
class Limits:
    """A venue's documented limits, and the liveness rules the client keeps."""

    #: pairs one connection may carry (Binance: 1,024 streams)
    pairs_per_connection: int
    #: messages this client sends per second and connection (below the venue's limit)
    messages_per_second: float
    #: connection attempts per second across the source's connections
    connects_per_second: float
    #: seconds without any frame after which the connection is taken for dead
    silence: float
    #: seconds between the client's own pings (None: the venue pings, or needs none)
    ping_interval: float | None = None
    #: reconnect before the venue's own cut (Binance closes every connection after 24 h)
    max_age: float | None = None
    #: pairs per subscribe message
    pairs_per_message: int = 100


class ConnectionProtocol(Protocol):
    """One connection's frames, in and out (it may number its requests)."""

    def url(self) -> str: ...

    def headers(self) -> dict[str, str]: ...

    def subscribe(self) -> list[str]:
        """The messages that subscribe every pair of this connection, in order."""
        ...

    def ping(self) -> str | None:
        """The venue's application-level ping (None: websocket ping frames suffice)."""
        ...

    def parse(self, data: str | bytes) -> list[Event]: ...


class RestMarkets(Protocol):
    """A venue's REST answers (`candleflow.sources.exchanges.<venue>_rest`)."""

    async def tick_sizes(self, natives: Sequence[str]) -> dict[str, str | None]:
        """Of `natives` (REST spelling), those the venue lists, with their price increment
        as a decimal string (None where it publishes none)."""
        ...

    def trades(self, native: str, symbol: str, since_ms: int) -> AsyncIterator[list[Tick]]:
        """The trades of `native` from `since_ms` on, in batches, oldest first."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class ExchangeSpec:
    """Everything a source needs to run one venue."""

    venue: Venue
    limits: Limits
    #: (websocket URL, the connection's pairs, the limits it keeps) -> its protocol
    protocol: Callable[[str, Spellings, Limits], ConnectionProtocol]
    #: REST base URL -> the venue's REST client
    rest: Callable[[str], RestMarkets] | None
    #: where the protocol is documented (docs/ingest.md repeats it)
    docs: str
    #: live messages may fold several fills into one trade id (OKX `trades`): the REST
    #: catch-up then stops before the first live trade's millisecond
    aggregated_live: bool = False
