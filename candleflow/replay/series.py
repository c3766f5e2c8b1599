"""One series of a replay: its bars as they form, and their indicators as they close.

The state starts from the store: the bars just before the replay's first bucket and the
stored outputs at the last of them (`candleflow.store.series.prefixes`, as the engine
reads them when its cache misses). Each frame's ticks arrive as 1-second bars
(`candleflow.domain.fold`), rolled into the series' resolution and merged into its bars
exactly as the engine merges deltas (`Bar.merge`): a bar newer than any the client has
is a `bar` event, an older one a `correction`.

A bar is closed once the replay clock has passed its end or a newer bar exists; the
bars that closed in a frame, and every closed bar a late tick changed since, are
recomputed with the one series recompute (`functions.recompute.compute`) from the
outputs held for the bar before them, and sent as one `indicators` event. So values and
marks equal what the engine stores for the same bars.

Memory is bounded: the series keeps its newest `window` bars and the warm-up before them.
A late tick for a bar older than that (rare: it would have to be `window` bars late)
cannot be replayed from memory; the client is told to refetch that stretch from the
store (`reset`), which holds it already, and the series continues from the store's
outputs at its edge (`reseed`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from candleflow.domain.bars import Bar, LevelKey, roll_into
from candleflow.domain.resolution import Resolution
from candleflow.functions.api import FunctionBar, Values
from candleflow.functions.recompute import SeriesInput, SeriesKey, compute
from candleflow.functions.registry import FunctionSet
from candleflow.replay.events import Event, bar_event, indicators_event, reset_event


@dataclass(slots=True)
class Entry:
    """One bar held: `bar` the replayed bar (None: read from the store), `fbar` what
    functions see of it, `outputs` the indicators' outputs there once it closed."""

    bucket: int
    bar: Bar | None
    fbar: FunctionBar
    outputs: Values | None = None


class SeriesReplay:
    """See the module docstring. `since` is the first bucket replayed (ms)."""

    def __init__(
        self, key: SeriesKey, resolution: Resolution, since: int, functions: FunctionSet, *, window: int = 2_000
    ) -> None:
        self.key = key
        self.resolution = resolution
        self.since = since
        self.functions = functions
        #: Bars before a recomputed one that the recompute reads (and the one whose outputs seed it).
        self.back = max(functions.needed - 1, 1)
        self.limit = max(window, 2) + self.back
        self.entries: list[Entry] = []
        self.buckets: list[int] = []
        #: Whether `entries[0]` is the series' first bar (nothing before it anywhere).
        self.series_start = True
        #: Bars with a bucket below this have closed (their outputs were sent).
        self.closed_until = since
        self.newest_sent: int | None = None
        #: Ranges [from, to) the client read from the store after a `reset`: final there.
        self.final: list[tuple[int, int]] = []

    def start(self, prefix: list[FunctionBar], seeds: Values | None) -> None:
        """The bars before `since` and the stored outputs at the last one (None: `prefix`
        starts the series, computed here from its first bar)."""
        self._load(prefix, seeds, [])

    def _load(self, prefix: list[FunctionBar], seeds: Values | None, kept: list[Entry]) -> None:
        """`prefix` (from the store) followed by `kept` (replayed bars)."""
        self.entries = [Entry(b.bucket, None, b) for b in prefix] + kept
        self.buckets = [e.bucket for e in self.entries]
        self.series_start = seeds is None
        if seeds is None and prefix:
            computed = compute(self.functions, SeriesInput(self.key, 0, list(prefix), 0, None))
            for entry, outputs in zip(self.entries[: len(prefix)], computed.outputs, strict=True):
                entry.outputs = outputs
        elif prefix and seeds is not None:
            self.entries[len(prefix) - 1].outputs = seeds
        self._trim()

    @property
    def edge(self) -> int:
        """The first index a recompute can start from (one after a bar with outputs)."""
        if self.series_start:
            return 0
        entries = self.entries
        for s in range(self.back, len(entries) + 1):
            if entries[s - 1].outputs is not None:
                return s
        return len(entries)

    def apply(self, seconds: Mapping[LevelKey, Bar], position: int) -> tuple[list[Event], list[int]]:
        """Merge a frame's 1-second bars (of any symbols) at clock `position`: the events,
        and the buckets out of reach (see `reseed`)."""
        symbol, since = self.key[0], self.since
        mine = {key: bar for key, bar in seconds.items() if key[0] == symbol and key[1] >= since}
        deltas = roll_into(self.resolution, mine) if mine else {}
        changed: list[int] = []
        lost: list[int] = []
        edge = self.edge
        for (_, bucket), delta in sorted(deltas.items()):
            at = bisect_left(self.buckets, bucket)
            if at < edge:
                if not any(lo <= bucket < hi for lo, hi in self.final):
                    lost.append(bucket)
                continue
            entry = self.entries[at] if at < len(self.entries) and self.buckets[at] == bucket else None
            if entry is None:
                self.entries.insert(at, Entry(bucket, delta, FunctionBar.of(bucket, delta)))
                self.buckets.insert(at, bucket)
            elif entry.bar is not None:
                entry.bar.merge(delta)
                entry.fbar = FunctionBar.of(bucket, entry.bar)
            changed.append(bucket)
        events = self._bar_events(changed)
        events.extend(self.close(position, changed))
        return events, lost

    def _bar_events(self, changed: list[int]) -> list[Event]:
        events = []
        symbol, code = self.key
        for bucket in changed:
            bar = self.entries[bisect_left(self.buckets, bucket)].bar
            if bar is None:
                continue
            newest = self.newest_sent is None or bucket >= self.newest_sent
            if newest:
                self.newest_sent = bucket
            events.append(bar_event(symbol, code, bucket, bar, correction=not newest))
        return events

    def close(self, position: int, changed: Sequence[int] = (), *, everything: bool = False) -> list[Event]:
        """Recompute and send what closed by `position` or changed while closed
        (`everything`: the newest bar too, at the end of the replay)."""
        entries = self.entries
        if not entries:
            return []
        newest_open = not everything and self.resolution.next(self.buckets[-1]) > position
        end = len(entries) - 1 if newest_open else len(entries)
        first = bisect_left(self.buckets, self.closed_until)
        for bucket in changed:
            if bucket < self.closed_until:
                first = min(first, bisect_left(self.buckets, bucket))
        if first >= end:
            return []
        first = max(first, self.edge)
        events = self._recompute(first, end)
        self.closed_until = self.buckets[end - 1] + 1
        self._trim()
        return events

    def _recompute(self, first: int, end: int) -> list[Event]:
        entries = self.entries
        since = self.buckets[first]
        seeds = entries[first - 1].outputs if first else None
        if seeds is not None and (first >= self.back or self.series_start):
            # the `back` bars before `first` (fewer at the series' first bar, where windows end too)
            lo = max(0, first - self.back)
            series = SeriesInput(self.key, since, [e.fbar for e in entries[lo:end]], first - lo, seeds)
        else:  # the series' first bars: from its first one
            series = SeriesInput(self.key, since, [e.fbar for e in entries[:end]], first, None)
        computed = compute(self.functions, series)
        for entry, outputs in zip(entries[first:end], computed.outputs, strict=True):
            entry.outputs = outputs
        symbol, code = self.key
        return [indicators_event(symbol, code, [(e.bucket, e.outputs) for e in entries[first:end]], computed.marks)]

    def _trim(self) -> None:
        """Forget the oldest bars past the window (only closed ones with outputs after them)."""
        excess = len(self.entries) - self.limit
        if excess <= 0:
            return
        closed = bisect_left(self.buckets, self.closed_until)
        excess = min(excess, closed - self.back - 1)
        if excess > 0:
            del self.entries[:excess]
            del self.buckets[:excess]
            self.series_start = False

    def reseed(self, lost: list[int], prefix: list[FunctionBar], seeds: Values | None, position: int) -> list[Event]:
        """Late ticks hit `lost` buckets, out of reach: the client refetches them up to
        the edge from the store, and the bars before the edge become the store's
        (`prefix`: the `back` bars before it; `seeds`: the stored outputs at the last)."""
        edge = self.edge
        end = self.buckets[edge] if edge < len(self.entries) else self.resolution.next(self.buckets[-1])
        start = min(lost)
        symbol, code = self.key
        events = [reset_event(symbol, code, start, end)]
        self.final.append((start, end))
        kept = self.entries[edge:]
        if kept:  # reopened before `_load` trims: their outputs are recomputed from the new seeds
            self.closed_until = min(self.closed_until, kept[0].bucket)
        self._load(prefix, seeds, kept)
        if kept:
            events.extend(self.close(position))
        return events
