"""The journal of one series in a hub: which bars changed, by hub stamp.

A client reconnecting with `Last-Event-ID` (a stamp) is told exactly which bars changed
while it was away (`changed_after`), or that the hub cannot tell (None: it then gets a
reset), because the journal keeps only the newest `JOURNAL_BARS` bars.
"""

from __future__ import annotations

from collections import OrderedDict

from candleflow.domain.updates import BarUpdate

#: Bars per series whose last change a journal remembers.
JOURNAL_BARS = 512


class Journal:
    """Which bars of one series changed, by hub stamp, since `since`."""

    def __init__(self, since: int) -> None:
        self.since = since
        #: bar time -> (stamp, trades) of its last change, oldest stamp first
        self.changed: OrderedDict[int, tuple[int, int]] = OrderedDict()
        self.idle_since: float | None = None

    def record(self, bar_time: int, stamp: int, trades: int) -> None:
        self.changed.pop(bar_time, None)
        self.changed[bar_time] = (stamp, trades)
        if len(self.changed) > JOURNAL_BARS:
            _, (evicted, _) = self.changed.popitem(last=False)
            self.since = evicted

    def changed_after(self, stamp: int) -> set[int] | None:
        """Bar times changed after `stamp`; None when that is older than the journal."""
        if stamp < self.since:
            return None
        return {bar_time for bar_time, (at, _) in self.changed.items() if at > stamp}

    def seen(self, update: BarUpdate) -> bool:
        """True when this bar already went out with at least `update`'s trades."""
        last = self.changed.get(update.time)
        return last is not None and last[1] >= update.trades
