"""A venue's markets as one source: checked against the venue's instrument list, split
over as many connections as its limits ask, each connection reopened whenever it ends,
and every market caught up over REST when its connection opens.

Before the first connection the source asks the venue's REST API which of its markets
exist, with what tick size: a market the venue does not list is refused with a message
that names it and says what to fix (the others go on; if none is left, the source stops
with that message); tick sizes ride on each market's first tick. When the instrument
list cannot be read the source goes on unchecked, with a warning.

Each connection carries at most `Limits.pairs_per_connection` markets and reconnects on
its own with capped, jittered backoff (reset once a connection delivered trades; a
venue's scheduled close reconnects at once; connection attempts are paced across the
source). Refused pairs are dropped from their connection and reported; a `Fatal` event
stops the whole source with its reason.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence

from candleflow.domain.venues import Spellings, Venue
from candleflow.sources.exceptions import SourceError
from candleflow.sources.gate import TradeGate
from candleflow.sources.stream.backoff import Backoff, Timing
from candleflow.sources.stream.catchup import CatchUp
from candleflow.sources.stream.connection import Connection, Ended
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
from candleflow.sources.stream.pacing import Pace
from candleflow.sources.stream.protocol import ExchangeSpec, RestMarkets

log = logging.getLogger(__name__)

#: Frames not understood that are logged in full per connection; later ones every 1,000th.
LOGGED_UNKNOWN = 10
#: Seconds a market's catch-up waits for the venue to confirm its subscription at most.
SUBSCRIBE_WAIT_S = 10.0


class _Link:
    """What one connection holds between reconnects: its markets and their catch-ups."""

    def __init__(self, venue: Venue, symbols: list[str]) -> None:
        self.symbols = symbols
        self.spellings = Spellings(venue, symbols)
        self.catchups: dict[str, CatchUp] = {}
        self.delivered = False
        self.unknown = 0
        self.fallback: asyncio.Task[None] | None = None


class StreamSource:
    def __init__(
        self,
        spec: ExchangeSpec,
        symbols: Sequence[str],
        *,
        ws_url: str,
        gate: TradeGate,
        rest_url: str | None = None,
        history_hours: float = 0.0,
        timing: Timing | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.venue.key
        self.wanted = list(dict.fromkeys(symbols))
        self.ws_url = ws_url
        self.gate = gate
        self.rest: RestMarkets | None = spec.rest(rest_url) if spec.rest is not None and rest_url else None
        self.history_ms = int(history_hours * 3_600_000)
        self.timing = timing if timing is not None else Timing()
        self.refused: dict[str, str] = {}
        self.connections = 0
        self._sleep = sleep
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._connect_pace = Pace(spec.limits.connects_per_second / self.timing.connect_pace_scale)
        self.backoffs: list[Backoff] = []
        #: symbol -> `since` of a catch-up its last connection did not complete
        self._pending: dict[str, int] = {}
        gate.status.register(self.name, self.wanted)

    # ---------------------------------------------------------------- run

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Stream until `stop` is set; raises `SourceError` when nothing can work."""
        try:
            await self._check_markets()
            live = [s for s in self.wanted if s not in self.refused]
            if not live:
                raise SourceError(f"{self.name}: no market left to stream ({self._refusals()}): fix CANDLEFLOW_SOURCE")
            size = self.spec.limits.pairs_per_connection
            groups = [live[i : i + size] for i in range(0, len(live), size)]
            if len(groups) > 1:
                log.info(
                    "%s: %d markets over %d connections (%d each at most)", self.name, len(live), len(groups), size
                )
            links = [_Link(self.spec.venue, group) for group in groups]
            tasks = [asyncio.create_task(self._keep(link), name=f"{self.name}-{i}") for i, link in enumerate(links)]
            waiter = asyncio.create_task((stop or asyncio.Event()).wait())
            try:
                done, _ = await asyncio.wait({*tasks, waiter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (*tasks, waiter):
                    task.cancel()
                await asyncio.gather(*tasks, waiter, return_exceptions=True)
            for task in done:
                if task is not waiter and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            if self.rest is not None:
                await self.rest.close()

    def _refusals(self) -> str:
        return "; ".join(f"{symbol}: {why}" for symbol, why in self.refused.items()) or "none configured"

    async def _check_markets(self) -> None:
        if self.rest is None:
            return
        natives = {symbol: self.spec.venue.rest(symbol) for symbol in self.wanted}
        try:
            listed = await self.rest.tick_sizes(list(natives.values()))
        except Exception as exc:  # any failure: go on unchecked, the socket will say more
            log.warning(
                "%s: the instrument list could not be read (%s): markets not checked, no tick sizes", self.name, exc
            )
            return
        for symbol, native in natives.items():
            if native not in listed:
                self._refuse(symbol, f"{self.spec.venue.exchange} lists no market {native}")
            else:
                self.gate.tick_size(symbol, listed[native])

    def _refuse(self, symbol: str, reason: str) -> None:
        if symbol in self.refused:
            return
        self.refused[symbol] = reason
        self.gate.status.refused(self.name, symbol, reason)
        log.error(
            "%s: %s refused: %s; the other markets go on (remove it from CANDLEFLOW_SOURCE)", self.name, symbol, reason
        )

    # --------------------------------------------------------- connections

    async def _keep(self, link: _Link) -> None:
        """Open the link's connection again and again until cancelled."""
        backoff = Backoff(self.timing, self._rng)
        self.backoffs.append(backoff)
        while True:
            link.symbols = [s for s in link.symbols if s not in self.refused]
            if not link.symbols:
                return
            link.spellings = Spellings(self.spec.venue, link.symbols)
            protocol = self.spec.protocol(self.ws_url, link.spellings, self.spec.limits)
            connection = Connection(protocol, self.spec.limits, self.timing)
            link.delivered = False
            try:
                await self._connect_pace.wait()
                self.connections += 1
                await connection.run(functools.partial(self._handle, link), functools.partial(self._opened, link))
                ended = Ended("connection closed")
            except Ended as exc:
                ended = exc
            finally:
                if link.fallback is not None:
                    link.fallback.cancel()
                for symbol, catchup in link.catchups.items():
                    await catchup.finish()
                    if not catchup.completed:
                        self._pending[symbol] = min(catchup.since_ms, self._pending.get(symbol, catchup.since_ms))
                link.catchups.clear()
            live = [s for s in link.symbols if s not in self.refused]
            self.gate.status.disconnected(self.name, live, ended.reason)
            if link.delivered:
                backoff.reset()
            scheduled = self.timing.scheduled_reconnect_delay if ended.scheduled else None
            delay = backoff.next(ended.floor, minimum=scheduled)
            log.warning("%s: %s; reconnecting in %.1f s", self.name, ended.reason, delay)
            await self._sleep(delay)

    async def _opened(self, link: _Link) -> None:
        log.info("%s: connected to %s for %s", self.name, self.ws_url, ", ".join(link.symbols))
        if self.rest is None or self.history_ms <= 0:
            return
        floor = int(self._clock() * 1000) - self.history_ms
        for symbol in link.symbols:
            newest = self.gate.newest.get(symbol)
            pending = self._pending.pop(symbol, None)
            if pending is not None:
                newest = max(pending, floor)
            elif newest is None and symbol in self.gate.unsettled:
                continue  # the log may hold it: better no history than a second one
            since = floor if newest is None else max(newest, floor)
            if newest is not None and newest < floor:
                log.warning(
                    "%s %s: the log stops at %d, beyond the %g h catch-up window: that stretch stays empty",
                    self.name,
                    symbol,
                    newest,
                    self.history_ms / 3_600_000,
                )
            native = self.spec.venue.rest(symbol)
            catchup = CatchUp(
                self.name, symbol, native, since, self.rest, self.gate, aggregated_live=self.spec.aggregated_live
            )
            link.catchups[symbol] = catchup
        # The REST fetch waits for the venue to confirm the subscription: fetched earlier,
        # the trades between its answer and the first live one would be in neither.
        link.fallback = asyncio.create_task(self._start_unconfirmed(link), name=f"{self.name}-catch-up-wait")

    async def _start_unconfirmed(self, link: _Link) -> None:
        await asyncio.sleep(SUBSCRIBE_WAIT_S * self.timing.liveness_scale)
        unconfirmed = [symbol for symbol, catchup in link.catchups.items() if not catchup.started]
        if unconfirmed:
            log.warning("%s: no subscription confirmed for %s: catching up anyway", self.name, ", ".join(unconfirmed))
        for symbol in unconfirmed:
            link.catchups[symbol].start()

    async def _handle(self, link: _Link, events: list[Event]) -> None:
        spellings = link.spellings
        for event in events:
            if type(event) is Trades:
                if link.catchups and any(c.active for c in link.catchups.values()):
                    live = [
                        t for t in event.ticks if t.symbol not in link.catchups or not link.catchups[t.symbol].hold(t)
                    ]
                else:
                    live = event.ticks
                await self.gate.publish_all(self.name, live)
                link.delivered = True
            elif type(event) is Alive:
                continue
            elif isinstance(event, Subscribed):
                symbols = [s for s in map(spellings.symbol, event.natives) if s is not None]
                self.gate.status.connected(self.name, symbols)
                for symbol in symbols:
                    catchup = link.catchups.get(symbol)
                    if catchup is not None:
                        catchup.start()
            elif isinstance(event, BadTrade):
                await self.gate.reject(event.raw, f"{self.name}: {event.reason}")
            elif isinstance(event, Refused):
                refused = spellings.symbol(event.native) if event.native is not None else None
                if refused is not None:
                    self._refuse(refused, event.reason)
                    dropped = link.catchups.pop(refused, None)
                    if dropped is not None:
                        await dropped.finish()
                else:
                    log.error("%s: the venue refused a request: %s", self.name, event.reason)
            elif isinstance(event, NotUnderstood):
                self._not_understood(link, event)
            elif isinstance(event, Reconnect):
                raise Ended(
                    f"the venue asked to reconnect ({event.reason})", event.min_delay, scheduled=event.min_delay == 0
                )
            elif isinstance(event, Fatal):
                raise SourceError(f"{self.name}: {event.reason}")

    def _not_understood(self, link: _Link, event: NotUnderstood) -> None:
        link.unknown += 1
        self.gate.status.not_understood(self.name, link.symbols)
        if link.unknown <= LOGGED_UNKNOWN or link.unknown % 1000 == 0:
            log.error(
                "%s: a frame not understood (%s; %d so far): %.300s", self.name, event.reason, link.unknown, event.raw
            )
