"""The one way out of a process's feeds: every trade of every source passes a `TradeGate`,
which publishes it unless the process has published it already.

A symbol names a market, not a source: two feeds of `Coinbase:BTC/USD` (Coinbase's own
socket and CryptoCompare's, at once or one after the other) publish the same series with
the exchange's trade ids. The gate's `RecentTrades` is shared by all of them, seeded from
the log's tail when the process starts (`candleflow.sources.log_tail`), so a replay, a
snapshot, a REST catch-up and a second feed of the same market each count a trade once.
The gate also remembers the newest trade time per symbol (where a catch-up goes on
from) and hangs each symbol's tick size on its first tick (the engine keeps it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from candleflow.core.feed_status import FeedStatus
from candleflow.core.metrics import FEED_DUPLICATES
from candleflow.domain.ticks import Tick
from candleflow.sources.dedupe import RecentTrades
from candleflow.sources.publisher import TickSink


class TradeGate:
    def __init__(
        self,
        sink: TickSink,
        *,
        dedupe: RecentTrades | None = None,
        status: FeedStatus | None = None,
        newest: Mapping[str, int] | None = None,
        unsettled: Iterable[str] = (),
    ) -> None:
        self.sink = sink
        self.dedupe = dedupe if dedupe is not None else RecentTrades()
        self.status = status if status is not None else FeedStatus()
        #: symbol -> newest trade time (ms) published or found in the log
        self.newest: dict[str, int] = dict(newest or {})
        #: symbols the log may hold without the tail read having found them (too long to read)
        self.unsettled: set[str] = set(unsettled)
        self.published = 0
        self.duplicates = 0
        self._tick_sizes: dict[str, str] = {}
        self._sized: set[str] = set()

    def tick_size(self, symbol: str, size: str | None) -> None:
        """The exchange's price increment of `symbol`: carried by its next tick."""
        if size is not None and self._tick_sizes.get(symbol) != size:
            self._tick_sizes[symbol] = size
            self._sized.discard(symbol)

    async def publish(self, source: str, tick: Tick) -> bool:
        """Publish `tick` unless it was published already; True when it went out."""
        return await self.publish_all(source, (tick,)) == 1

    async def publish_all(self, source: str, ticks: Iterable[Tick]) -> int:
        """Publish each of `ticks` not published already, in order; how many went out
        (one call per frame: this is every trade's path)."""
        seen, publish, newest = self.dedupe.seen, self.sink.publish, self.newest
        sent = 0
        symbols: set[str] = set()
        for tick in ticks:
            if seen(tick):
                self.duplicates += 1
                FEED_DUPLICATES.labels(source=source).inc()
                continue
            symbol = tick.symbol
            if symbol not in self._sized and symbol in self._tick_sizes:
                self._sized.add(symbol)
                await publish(tick._replace(tick_size=self._tick_sizes[symbol]))
            else:
                await publish(tick)
            sent += 1
            if tick.ts > newest.get(symbol, 0):
                newest[symbol] = tick.ts
            symbols.add(symbol)
        for symbol in symbols:
            self.status.traded(source, symbol)
        self.published += sent
        return sent

    async def reject(self, raw: bytes | str, reason: str) -> None:
        await self.sink.reject(raw, reason)


class GateSink:
    """A `TickSink` that publishes through the gate as `source` (for clients written
    against a sink, such as the CryptoCompare client)."""

    def __init__(self, gate: TradeGate, source: str) -> None:
        self.gate = gate
        self.source = source

    async def publish(self, tick: Tick) -> None:
        await self.gate.publish(self.source, tick)

    async def reject(self, raw: bytes | str, reason: str) -> None:
        await self.gate.reject(raw, reason)
