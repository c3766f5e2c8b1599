"""One SSE connection as the hub sees it: its subscriptions, its bounded queue, its bytes.

A connection carries one subscription (`/udf/stream`) or any number of them
(`/udf/streams`); its `Wire` is the event format its client understands. Every event it
writes has an `id:` — the hub stamp of the newest update it reflects, never decreasing
on one connection (see `candleflow.web.hub`).

Writing. While the client keeps up (nothing queued, the socket's write buffer under
`HIGH_WATER`), an update is written to the socket at once, from the hub's dispatch:
no task switch per client. Otherwise it joins the queue, which the connection's writer
task (`candleflow.web.event_stream.pump`) drains with flow control. The queue is keyed by bar
— an update to a bar already queued replaces it (latest wins) — and holds at most
`limit` entries per subscription (and per quote followed, latest quote per symbol);
past that the connection is closed as too slow
(`candleflow_sse_clients_dropped`).

Classifying. An update of a bar at or after the newest one the client has (or will
get) is a `bar`; anything older, or flagged `correction` by the engine, is a
`correction` carrying the corrected bar, which a client applies in place
(`MULTIPLEXED`); the single-series stream's clients only know bar and reset, so its
wire (`SINGLE_SERIES`) turns a correction into a `reset` of the series.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson

from candleflow.core.metrics import LIVE_STAGE_SECONDS
from candleflow.domain.updates import BarUpdate, Key

#: Bytes in a socket's write buffer past which updates queue instead of going out at once.
HIGH_WATER = 64 * 1024
#: One connection in this many records its hub → client latency: a histogram observation
#: costs as much as a `send` (`bench/bench_sse.py` shows what denser sampling costs).
SAMPLE_EVERY = 64

HUB_TO_CLIENT = LIVE_STAGE_SECONDS.labels("hub_to_client")
_sampling = itertools.count()
Slot = tuple[object, ...]


def event(kind: bytes, data: bytes) -> bytes:
    """An SSE event without its id line."""
    return b"event: " + kind + b"\ndata: " + data + b"\n\n"


class Wire:
    """The events one kind of stream writes for a correction and a reset (see the module
    docstring): `MULTIPLEXED` (`/udf/streams`) or `SINGLE_SERIES` (`/udf/stream`)."""

    def correction(self, bodies: Bodies) -> tuple[Slot, bytes, Bodies | None]:
        """(queue slot, event, shared bodies or None) of the correction `bodies` carries."""
        return bodies.slot, bodies.correction, bodies

    def reset(self, key: Key) -> bytes:
        return event(b"reset", orjson.dumps({"symbol": key[0], "resolution": key[1]}))


class _SingleSeriesWire(Wire):
    def correction(self, bodies: Bodies) -> tuple[Slot, bytes, Bodies | None]:
        return (bodies.key, "reset"), self.reset(bodies.key), None

    def reset(self, key: Key) -> bytes:
        return _BARE_RESET


_BARE_RESET = event(b"reset", b"{}")
MULTIPLEXED = Wire()
SINGLE_SERIES = _SingleSeriesWire()


class Bodies:
    """The events of one update, serialised once for every connection that gets it."""

    __slots__ = ("_bar", "_correction", "_framed", "_json", "key", "slot", "update")

    def __init__(self, update: BarUpdate) -> None:
        self.update = update
        #: The series, and the queue slot of this bar (computed once, not per client).
        self.key: Key = (update.symbol, update.resolution)
        self.slot: Slot = (self.key, update.time)
        self._json: bytes | None = None
        self._bar: bytes | None = None
        self._correction: bytes | None = None
        #: The last chunk framed: (body, stamp, chunk). One dispatch frames one body
        #: with one stamp for every connection; the cache is that one entry.
        self._framed: tuple[bytes, int, bytes] | None = None

    def framed(self, body: bytes, stamp: int) -> bytes:
        """`body` with id `stamp` as one HTTP chunk, built once for every connection."""
        last = self._framed
        if last is not None and last[0] is body and last[1] == stamp:
            return last[2]
        chunk = _chunk(b"id: %d\n" % stamp + body)
        self._framed = (body, stamp, chunk)
        return chunk

    def _data(self) -> bytes:
        if self._json is None:
            self._json = self.update.bar_json()
        return self._json

    @property
    def bar(self) -> bytes:
        if self._bar is None:
            self._bar = event(b"bar", self._data())
        return self._bar

    @property
    def correction(self) -> bytes:
        if self._correction is None:
            self._correction = event(b"correction", self._data())
        return self._correction


@dataclass(slots=True)
class _Subscription:
    #: Newest bar time written or queued for the client.
    newest: int | None = None


@dataclass(slots=True)
class _Queued:
    body: bytes
    stamp: int
    received: float


@dataclass(eq=False, slots=True)
class Connection:
    """See the module docstring. `transport` is None until the stream is set up."""

    limit: int
    wire: Wire = MULTIPLEXED
    alive: Callable[[], bool] = lambda: True
    on_drop: Callable[[], None] = lambda: None
    stream_id: str = ""
    subscriptions: dict[Key, _Subscription] = field(default_factory=dict)
    #: Symbols whose quotes this connection follows: symbol -> the name it asked for
    #: (`candleflow.web.quote_board`).
    quoted: dict[str, str] = field(default_factory=dict)
    pending: dict[Slot, _Queued] = field(default_factory=dict)
    closed: str | None = None
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    last_id: int = 0
    _transport: asyncio.BaseTransport | None = None
    #: Chunks of the round `offer_all` is offering, written together when it ends.
    _corked: list[bytes] | None = None
    _controls: itertools.count[int] = field(default_factory=itertools.count)
    _sampled: bool = field(default_factory=lambda: next(_sampling) % SAMPLE_EVERY == 0)

    def go_direct(self, transport: asyncio.BaseTransport | None) -> None:
        """From now on write to `transport` directly while the client keeps up.

        The caller has sent the response head and framed the body chunked; None
        (e.g. an HTTP/1.0 client) keeps every write on the queue.
        """
        self._transport = transport
        self.wakeup.set()

    def add(self, key: Key) -> bool:
        """Subscribe to `key`; False when it was subscribed already."""
        if key in self.subscriptions:
            return False
        self.subscriptions[key] = _Subscription()
        return True

    def remove(self, key: Key) -> None:
        self.subscriptions.pop(key, None)
        for slot in [slot for slot in self.pending if slot[0] == key]:
            del self.pending[slot]

    def offer(self, bodies: Bodies, stamp: int, received: float) -> bool:
        """Queue or write one update; False when that makes this connection too slow.

        Runs once per client per update, the hub's hot loop: everything per update is
        computed once in `bodies`."""
        subscription = self.subscriptions.get(bodies.key)
        if subscription is None or self.closed is not None:
            return True
        update = bodies.update
        newest = subscription.newest
        if not update.correction and (newest is None or update.time >= newest):
            subscription.newest = update.time
            return self._put(bodies.slot, bodies.bar, stamp, received, bodies)
        slot, body, shared = self.wire.correction(bodies)
        return self._put(slot, body, stamp, received, shared)

    def offer_all(self, batch: Sequence[tuple[Bodies, int, float]]) -> bool:
        """`offer` each update of one fan-out round, writing what goes out directly in one
        `send`: a `send` is most of a client's cost per round (`bench/bench_sse.py`)."""
        if len(batch) == 1:
            return self.offer(*batch[0])
        corked: list[bytes] = []
        self._corked = corked
        try:
            return all(self.offer(bodies, stamp, received) for bodies, stamp, received in batch)
        finally:
            self._corked = None
            if corked and self._transport is not None:
                self._transport.write(b"".join(corked))  # type: ignore[attr-defined]

    def reset(self, key: Key, stamp: int) -> bool:
        """Tell the client to refetch `key` (it missed more than the hub can replay)."""
        if key not in self.subscriptions:
            return True
        return self._put((key, "reset"), self.wire.reset(key), stamp, time.monotonic())

    def quote(self, symbol: str, body: bytes, stamp: int) -> bool:
        """Queue or write a symbol's quote; a quote still queued is replaced (latest wins)."""
        return self._put(("quote", symbol), body, stamp, time.monotonic())

    def control(self, body: bytes, stamp: int) -> bool:
        """Queue a protocol event (`hello`, `subscribed`) in order with the bars."""
        return self._put(("control", next(self._controls)), body, stamp, time.monotonic())

    def _put(self, slot: Slot, body: bytes, stamp: int, received: float, shared: Bodies | None = None) -> bool:
        transport = self._transport
        if (
            transport is not None
            and not self.pending
            and transport.get_write_buffer_size() < HIGH_WATER  # type: ignore[attr-defined]
            and not transport.is_closing()
        ):
            if shared is not None and stamp >= self.last_id:  # the common case: the same bytes for all
                self.last_id = stamp
                chunk = shared.framed(body, stamp)
            else:
                chunk = _chunk(self._with_id(body, stamp))
            if self._corked is None:
                transport.write(chunk)  # type: ignore[attr-defined]
            else:
                self._corked.append(chunk)
            if self._sampled:
                HUB_TO_CLIENT.observe(time.monotonic() - received)
            return True
        self.pending.pop(slot, None)  # re-inserted last: the queue stays in stamp order
        self.pending[slot] = _Queued(body, stamp, received)
        if len(self.pending) > self.limit * max(1, len(self.subscriptions) + len(self.quoted)):
            self.close("slow")
            self.on_drop()
            return False
        self.wakeup.set()
        return True

    def take(self) -> tuple[bytes, float | None]:
        """Everything queued, as one chunk of events with ids, and the oldest receipt time."""
        queued, self.pending = self.pending, {}
        self.wakeup.clear()
        oldest = min((q.received for q in queued.values()), default=None)
        return b"".join(self._with_id(q.body, q.stamp) for q in queued.values()), oldest

    def _with_id(self, body: bytes, stamp: int) -> bytes:
        self.last_id = max(self.last_id, stamp)
        return b"id: %d\n" % self.last_id + body

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
            self.pending.clear()
            self._transport = None
        self.wakeup.set()


def _chunk(data: bytes) -> bytes:
    """`data` framed as one HTTP/1.1 chunk (the stream's transfer encoding)."""
    return b"%x\r\n%b\r\n" % (len(data), data)
