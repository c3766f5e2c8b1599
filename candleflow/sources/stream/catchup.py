"""Filling what the websocket did not carry from the venue's REST trades, without a gap
or a double at the seam.

When a connection opens, each of its markets first catches up: the trades the socket
delivers meanwhile wait in a buffer, the REST trades from `since` are published up to
the first buffered one (by time: REST trades at or after it are the socket's to carry),
then the buffer follows and the market goes live. REST trades in the very millisecond of
the first buffered one are kept too (the duplicate filter drops those the socket also
carries): venues that stamp trades to the second (Bitstamp's REST) put many trades in
it. Only a venue whose live messages aggregate several fills under one id (OKX's
`trades`) cuts before that millisecond, where the REST fills could not be told apart
from the aggregate. `since` is where the log stops for
that market (the newest tick the process published or found in the log), or, for a
market the log holds no tick of, `history` hours ago: a first start lays down recent real
history, a restart or a reconnect fills exactly its gap, and the shared duplicate filter
drops the overlap at `since`.

A REST failure (unreachable, rate limited past its retries, a market without history)
ends the catch-up with a warning that names the market and the gap; the buffered live
trades are published all the same. A catch-up that did not complete (its connection
ended first, or the REST call failed) is not forgotten: the next connection's catch-up
starts again from the same `since`. The buffer is bounded: past `MAX_BUFFER` trades the
catch-up stops and the market goes live.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

import aiohttp

from candleflow.core.tasks import cancel_and_wait
from candleflow.domain.exceptions import CandleflowError
from candleflow.domain.ticks import Tick
from candleflow.sources.gate import TradeGate
from candleflow.sources.stream.protocol import RestMarkets

log = logging.getLogger(__name__)

#: Live trades held while a market catches up, at most.
MAX_BUFFER = 200_000
#: REST trades one catch-up publishes at most (a day of BTC/USDT on Binance is ~2 million).
MAX_TRADES = 1_000_000


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


class CatchUp:
    """One market's catch-up: made when its connection opens (from then on `hold(tick)`
    keeps the live trades), `start()`ed once the venue confirmed the subscription,
    `finish()`ed when the connection ends."""

    def __init__(
        self,
        source: str,
        symbol: str,
        native: str,
        since_ms: int,
        rest: RestMarkets,
        gate: TradeGate,
        *,
        aggregated_live: bool = False,
    ) -> None:
        self.aggregated_live = aggregated_live
        self.source = source
        self.symbol = symbol
        self.native = native
        self.since_ms = since_ms
        self.rest = rest
        self.gate = gate
        self.buffer: deque[Tick] = deque()
        self.active = True
        self.fetched = 0
        #: the REST trades reached the live ones (or the venue had no more): nothing left to fetch
        self.completed = False
        self._overflow = False
        self._task: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        """Fetch now (once the venue confirmed the subscription: live trades are held from creation)."""
        if self._task is None and self.active:
            self._task = asyncio.create_task(self._run(), name=f"catch-up-{self.symbol}")

    def hold(self, tick: Tick) -> bool:
        """Keep a live trade until the catch-up ends; False when the market is live (publish it)."""
        if not self.active:
            return False
        self.buffer.append(tick)
        if len(self.buffer) >= MAX_BUFFER and self._task is not None and not self._overflow:
            log.warning(
                "%s %s: %d live trades waited for the REST catch-up: going live",
                self.source,
                self.symbol,
                len(self.buffer),
            )
            self._overflow = True
            self._task.cancel()
        return True

    async def finish(self) -> None:
        """Stop fetching (the connection ended) and publish what the buffer holds."""
        if self._task is not None and not self._task.done():
            await cancel_and_wait(self._task)
        await self._flush()

    async def wait(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        try:
            await self._fetch()
            self.completed = True
        except asyncio.CancelledError:
            if not self._overflow:
                raise
        except (CandleflowError, aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            log.warning(
                "%s %s: the trades since %s could not be fetched (%s): that stretch may miss trades",
                self.source,
                self.symbol,
                _when(self.since_ms),
                exc,
            )
        await self._flush()

    async def _fetch(self) -> None:
        async for batch in self.rest.trades(self.native, self.symbol, self.since_ms):
            cut = self.buffer[0].ts if self.buffer else None
            for tick in batch:
                if tick.ts < self.since_ms:
                    continue
                if cut is not None and (tick.ts > cut or (self.aggregated_live and tick.ts == cut)):
                    return  # the socket carries the rest
                await self.gate.publish(self.source, tick)
                self.fetched += 1
            if self.fetched >= MAX_TRADES:
                log.warning("%s %s: catch-up stopped at %d trades", self.source, self.symbol, self.fetched)
                return

    async def _flush(self) -> None:
        while self.buffer:
            await self.gate.publish(self.source, self.buffer.popleft())
        if self.active:
            self.active = False
            if self.fetched:
                log.info(
                    "%s %s: %d trades since %s fetched over REST, now live",
                    self.source,
                    self.symbol,
                    self.fetched,
                    _when(self.since_ms),
                )
