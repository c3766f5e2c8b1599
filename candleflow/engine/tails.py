"""The engine's in-memory state: the tail of each series it writes.

Bars themselves live in the database (the engine writes deltas and the upsert merges
them), so memory holds no bucket state that could grow. What a batch needs from memory
is what a recompute reads (`candleflow.functions.recompute`): the last `needed` bars
of each series it touches and every indicator's outputs at them, to recompute without a
round trip. `TailCache` keeps them, bounded per series and in the number of series
(least recently used first out). It is a cache only: when the ledger shows that someone
else wrote a partition since this worker last did, every tail of that partition is
dropped and reloaded from the database.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from dataclasses import dataclass

from candleflow.domain.bars import SeriesKey
from candleflow.functions.api import FunctionBar, Values

#: Outputs of every indicator at one bar; None where the cache does not know them.
BarOutputs = Values | None


@dataclass(slots=True)
class SeriesTail:
    partition: int
    buckets: list[int]
    bars: list[FunctionBar]
    outputs: list[BarOutputs]
    #: True when `buckets[0]` is the first bar the series ever had.
    complete: bool

    def split(self, since: int, needed: int) -> tuple[list[FunctionBar], Values | None, int] | None:
        """The bars before `since` a recompute reads, the seeds at the last of them
        (None: those bars start the series) and the index of `since`; None when the
        tail cannot tell (too short, or the seeds unknown)."""
        index = bisect_left(self.buckets, since)
        start = max(0, index - needed)
        if start == 0 and self.complete:
            return self.bars[:index], None, index
        if index < needed:
            return None
        seeds = self.outputs[index - 1]
        if seeds is None:
            return None
        return self.bars[start:index], seeds, index


class TailCache:
    def __init__(self, keep: int, max_series: int = 50_000) -> None:
        self.keep = keep
        self.max_series = max_series
        self._tails: OrderedDict[SeriesKey, SeriesTail] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tails)

    def get(self, key: SeriesKey) -> SeriesTail | None:
        tail = self._tails.get(key)
        if tail is not None:
            self._tails.move_to_end(key)
        return tail

    def put(
        self, key: SeriesKey, partition: int, bars: list[FunctionBar], outputs: list[BarOutputs], complete: bool
    ) -> None:
        if len(bars) > self.keep:
            cut = len(bars) - self.keep
            bars, outputs, complete = bars[cut:], outputs[cut:], False
        self._tails[key] = SeriesTail(partition, [b.bucket for b in bars], bars, outputs, complete)
        self._tails.move_to_end(key)
        while len(self._tails) > self.max_series:
            self._tails.popitem(last=False)

    def drop(self, key: SeriesKey) -> None:
        self._tails.pop(key, None)

    def drop_partition(self, partition: int) -> int:
        stale = [key for key, tail in self._tails.items() if tail.partition == partition]
        for key in stale:
            del self._tails[key]
        return len(stale)
