"""What a process's feeds report about themselves, for `/healthz`, `/metrics` and the chart.

The worker that runs the feeds owns one `FeedStatus` (the test seam is its constructor)
and hands it to every source; each source records, per market: whether its connection
is up (and why not), when its last trade came, how often it reconnected, and how many
frames it did not understand. The web views only read `snapshot()`.

A feed counts as down when one of its markets has been disconnected for longer than
`down_after` seconds: a socket that is being re-opened after a short loss is not news,
one that stays closed is (`/healthz` answers "degraded" with the client's reason).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from candleflow.core.metrics import FEED_CONNECTED, FEED_LAST_TRADE, FEED_NOT_UNDERSTOOD, FEED_RECONNECTS


@dataclass(slots=True)
class MarketState:
    """One market of one source."""

    connected: bool = False
    #: when it last went down (or when it was registered, until it first connects)
    down_since: float | None = None
    reason: str | None = "connecting"
    last_trade_at: float | None = None
    #: when the last-trade gauge was last set (it follows at most once a second)
    reported_at: float = 0.0
    reconnects: int = 0
    not_understood: int = 0


@dataclass
class FeedStatus:
    down_after: float = 60.0
    clock: Callable[[], float] = time.time
    markets: dict[tuple[str, str], MarketState] = field(default_factory=dict)

    def register(self, source: str, symbols: Iterable[str]) -> None:
        """`source` is configured to feed `symbols`; until it connects they are down."""
        now = self.clock()
        for symbol in symbols:
            self.markets.setdefault((source, symbol), MarketState(down_since=now))
            FEED_CONNECTED.labels(source=source, symbol=symbol).set(0)

    def _state(self, source: str, symbol: str) -> MarketState:
        state = self.markets.get((source, symbol))
        if state is None:
            state = self.markets[(source, symbol)] = MarketState(down_since=self.clock())
        return state

    def connected(self, source: str, symbols: Iterable[str]) -> None:
        for symbol in symbols:
            state = self._state(source, symbol)
            state.connected, state.down_since, state.reason = True, None, None
            FEED_CONNECTED.labels(source=source, symbol=symbol).set(1)

    def disconnected(self, source: str, symbols: Iterable[str], reason: str) -> None:
        """The markets' connection went (or could not be opened); `reason` says why."""
        now = self.clock()
        for symbol in symbols:
            state = self._state(source, symbol)
            if state.connected or state.down_since is None:
                state.down_since = now
                state.reconnects += 1
                FEED_RECONNECTS.labels(source=source).inc()
            state.connected, state.reason = False, reason
            FEED_CONNECTED.labels(source=source, symbol=symbol).set(0)

    def refused(self, source: str, symbol: str, reason: str) -> None:
        """The venue refused the market for good: it stays down with that reason."""
        self.disconnected(source, [symbol], reason)

    def traded(self, source: str, symbol: str, at: float | None = None) -> None:
        """A trade of the market went out (this runs per trade: the gauge is set at most
        once a second per market)."""
        when = self.clock() if at is None else at
        state = self.markets.get((source, symbol)) or self._state(source, symbol)
        state.last_trade_at = when
        if when - state.reported_at >= 1.0:
            state.reported_at = when
            FEED_LAST_TRADE.labels(source=source, symbol=symbol).set(when)

    def not_understood(self, source: str, symbols: Iterable[str] = ()) -> None:
        """A frame the client could not read; counted on each market it may concern."""
        FEED_NOT_UNDERSTOOD.labels(source=source).inc()
        for symbol in symbols:
            self._state(source, symbol).not_understood += 1

    def down(self) -> list[tuple[str, str, str]]:
        """(source, symbol, reason) of each market down for longer than `down_after`."""
        now = self.clock()
        return [
            (source, symbol, state.reason or "disconnected")
            for (source, symbol), state in sorted(self.markets.items())
            if not state.connected and state.down_since is not None and now - state.down_since > self.down_after
        ]

    def snapshot(self) -> dict[str, object]:
        now = self.clock()
        feeds: dict[str, dict[str, object]] = {}
        for (source, symbol), state in sorted(self.markets.items()):
            feeds.setdefault(source, {})[symbol] = {
                "connected": state.connected,
                "down_for_s": None if state.down_since is None else round(now - state.down_since, 1),
                "reason": state.reason,
                "last_trade_age_s": None if state.last_trade_at is None else round(now - state.last_trade_at, 1),
                "reconnects": state.reconnects,
                "not_understood": state.not_understood,
            }
        down = self.down()
        return {"status": "down" if down else "up", "down": [list(item) for item in down], "sources": feeds}
