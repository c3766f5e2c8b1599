"""The engine's in-memory state: the tail of each series it writes.

Bars themselves live in the database (the engine writes deltas and the upsert merges
them), so memory holds no bucket state that could grow. What a batch needs from memory
is the closes and EMAs of the last `max(periods)` bars of each series it touches, to
compute moving averages without a round trip. `TailCache` keeps them, bounded per series
and in the number of series (least recently used first out). It is a cache only: when
the ledger shows that someone else wrote a partition since this worker last did, every
tail of that partition is dropped and reloaded from the database.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from dataclasses import dataclass

from candleflow.bars import SeriesKey


@dataclass(slots=True)
class SeriesTail:
    partition: int
    buckets: list[int]
    closes: list[float]
    emas: list[dict[int, float]]
    #: True when `buckets[0]` is the first bar the series ever had.
    complete: bool

    def split(self, since: int, needed: int) -> tuple[list[float], dict[int, float] | None, int] | None:
        """Prefix closes and EMAs before `since`, or None when the tail is too short.

        Returns (prefix closes, EMAs at the last prefix bar, index of `since`).
        """
        index = bisect_left(self.buckets, since)
        if index < needed and not self.complete:
            return None
        start = max(0, index - needed)
        emas = self.emas[index - 1] if index > 0 else None
        return self.closes[start:index], emas, index


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
        self,
        key: SeriesKey,
        partition: int,
        buckets: list[int],
        closes: list[float],
        emas: list[dict[int, float]],
        complete: bool,
    ) -> None:
        if len(buckets) > self.keep:
            cut = len(buckets) - self.keep
            buckets, closes, emas, complete = buckets[cut:], closes[cut:], emas[cut:], False
        self._tails[key] = SeriesTail(partition, buckets, closes, emas, complete)
        self._tails.move_to_end(key)
        while len(self._tails) > self.max_series:
            self._tails.popitem(last=False)

    def drop_partition(self, partition: int) -> int:
        stale = [key for key, tail in self._tails.items() if tail.partition == partition]
        for key in stale:
            del self._tails[key]
        return len(stale)
