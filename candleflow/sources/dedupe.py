"""Bounded memory of recent trade ids per symbol, to drop trades a streamer sends twice.

CryptoCompare replays up to about 20 recent trades of a channel whenever it is
subscribed, so every reconnect would otherwise duplicate them. `RecentTrades` keeps the
last `per_symbol` keys of each symbol in a ring (a deque for order plus a set for
lookup), so memory is bounded by symbols x `per_symbol` whatever the run's length.
"""

from __future__ import annotations

from collections import deque

from candleflow.domain.ticks import Tick


def trade_key(tick: Tick) -> str:
    """The trade id; for id-less trades their time, price, size and side together."""
    if tick.id is not None:
        return tick.id
    return f"{tick.ts}|{tick.price!r}|{tick.qty!r}|{tick.side}"


class RecentTrades:
    """`seen(tick)` is True when the same trade of the same symbol came recently."""

    def __init__(self, per_symbol: int = 2048) -> None:
        if per_symbol <= 0:
            raise ValueError(f"per_symbol must be > 0, got {per_symbol}")
        self.per_symbol = per_symbol
        self._order: dict[str, deque[str]] = {}
        self._keys: dict[str, set[str]] = {}

    def seen(self, tick: Tick) -> bool:
        """Remember `tick`; True when it was remembered already (a duplicate)."""
        key = tick.id if tick.id is not None else trade_key(tick)
        keys = self._keys.get(tick.symbol)
        if keys is None:
            return self.seen_key(tick.symbol, key)
        if key in keys:
            return True
        order = self._order[tick.symbol]
        if len(order) >= self.per_symbol:
            keys.discard(order.popleft())
        order.append(key)
        keys.add(key)
        return False

    def seen_key(self, group: str, key: str) -> bool:
        """Remember `key` within `group` (a symbol or channel); True when already there."""
        keys = self._keys.get(group)
        if keys is None:
            keys = self._keys[group] = set()
            self._order[group] = deque()
        if key in keys:
            return True
        order = self._order[group]
        if len(order) >= self.per_symbol:
            keys.discard(order.popleft())
        order.append(key)
        keys.add(key)
        return False

    def __len__(self) -> int:
        return sum(len(keys) for keys in self._keys.values())
