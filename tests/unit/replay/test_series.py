"""A series replayed frame by frame ends where the engine's store ends: bars equal to the
fold of every tick, values and marks equal to a recompute of the whole series — with
late ticks, any frames and clock positions, and a window so small that late ticks fall
out of it (then the client refetches from the store, as told)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from candleflow.domain.bars import aggregate
from candleflow.domain.fold import fold_seconds
from candleflow.domain.resolution import parse_resolution
from candleflow.domain.tick_decode import TickColumns
from candleflow.functions.api import FunctionBar
from candleflow.functions.builtin import EMA, SMA, Crossover
from candleflow.functions.examples import VWAP
from candleflow.functions.recompute import Computed, whole
from candleflow.functions.registry import FunctionSet
from candleflow.replay.events import Event
from candleflow.replay.series import SeriesReplay
from tests.harness.replay_client import BarRow, ReplayClient, SeriesHeld

SYMBOL = "X:A/B"
#: Short periods, so warm-ups end inside the series; VWAP reads volumes, which every late tick changes.
FUNCTIONS = FunctionSet.of([SMA(period=2), EMA(period=3), VWAP(period=2), Crossover(fast=2, slow=3)])
T0 = 1_700_000_040_000  # a minute's start


@dataclass
class Store:
    """The engine's final state: every bar (prefix and replayed) and a whole recompute."""

    bars: list[FunctionBar]
    computed: Computed
    rows: dict[int, BarRow]
    #: Read the whole history instead of seeds (what `prefixes` does when seeds are missing).
    fallback: bool = False

    def held(self, start: int, end: int) -> SeriesHeld:
        held = SeriesHeld(bars={t: row for t, row in self.rows.items() if start <= t < end})
        for bar, outputs in zip(self.bars, self.computed.outputs, strict=True):
            t = bar.bucket // 1000
            if start <= t < end:
                held.values[t] = {k: None if v is None else list(v) for k, v in outputs.items()}
        for m in self.computed.marks:
            t = m.bucket // 1000
            if start <= t < end:
                held.marks.setdefault(t, set()).add((t, m.signal, m.kind, m.label, m.text))
        return held

    def before(self, bucket: int) -> tuple[list[FunctionBar], Any]:
        """What `store.series.prefixes` reads before `bucket`."""
        index = sum(1 for b in self.bars if b.bucket < bucket)
        if index < FUNCTIONS.needed or self.fallback:
            return self.bars[:index], None
        return self.bars[index - FUNCTIONS.needed : index], self.computed.outputs[index - 1]


def columns(ticks: list[tuple[int, float, float]]) -> TickColumns:
    return TickColumns(
        np.arange(len(ticks), dtype=np.int64),
        [SYMBOL] * len(ticks),
        np.array([t[0] for t in ticks], dtype=np.int64),
        np.array([t[1] for t in ticks], dtype=np.float64),
        np.array([t[2] for t in ticks], dtype=np.float64),
    )


ticks_strategy = st.lists(
    st.tuples(st.integers(0, 15 * 60_000), st.integers(1, 60), st.sampled_from([0.5, 1.25, 2.0])),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150)
@given(
    code=st.sampled_from(["1S", "1", "5"]),
    prefix_closes=st.lists(st.integers(1, 60), max_size=6),
    raw=ticks_strategy,
    cuts=st.lists(st.integers(1, 20), min_size=1, max_size=30),
    idle=st.lists(st.integers(0, 400_000), min_size=1, max_size=30),
    window=st.sampled_from([2, 3, 50]),
    fallback=st.booleans(),
)
def test_a_replay_ends_on_the_stores_bars_values_and_marks(
    code: str,
    prefix_closes: list[int],
    raw: list[tuple[int, int, float]],
    cuts: list[int],
    idle: list[int],
    window: int,
    fallback: bool,
) -> None:
    resolution = parse_resolution(code)
    since = resolution.floor(T0)
    step = 1000 if code == "1S" else 60_000 * resolution.count
    prefix = [
        FunctionBar(since - (len(prefix_closes) - i) * step, c, c + 1, c - 1, c, 1.0)
        for i, c in enumerate(prefix_closes)
    ]
    ticks = [(since + at, float(price), qty) for at, price, qty in raw]
    final = aggregate((SYMBOL, ts, price, qty, seq) for seq, (ts, price, qty) in enumerate(ticks))
    replayed = sorted((key[2], bar) for key, bar in final.items() if key[1] == code)
    store_bars = prefix + [FunctionBar.of(bucket, bar) for bucket, bar in replayed]
    rows = {b.bucket // 1000: (b.bucket // 1000, b.open, b.high, b.low, b.close, b.volume, 0) for b in prefix}
    rows.update(
        {
            bucket // 1000: (bucket // 1000, b.open, b.high, b.low, b.close, float(b.volume), b.trades)
            for bucket, b in replayed
        }
    )
    store = Store(store_bars, whole(FUNCTIONS, (SYMBOL, code), store_bars), rows)

    series = SeriesReplay((SYMBOL, code), resolution, since, FUNCTIONS, window=window)
    series.start(*store.before(since))
    client = ReplayClient(refetch=lambda _s, _r, start, end: store.held(start, end))
    # the prefix: what /udf/history, /api/indicators and /udf/marks serve before `since`
    client.series[(SYMBOL, code)] = store.held(0, since // 1000)

    def deliver(events: list[Event]) -> None:
        client.apply_all((e.kind, e.data) for e in events)

    position, at, frame = since, 0, 0
    while at < len(ticks):
        chunk = ticks[at : at + cuts[frame % len(cuts)]]
        position = max(position, max(ts for ts, _, _ in chunk) + 1)
        seconds = fold_seconds(columns(chunk), np.arange(at, at + len(chunk), dtype=np.int64)).bars
        events, lost = series.apply(seconds, position)
        deliver(events)
        if lost:
            edge = series.edge
            end = series.buckets[edge] if edge < len(series.buckets) else resolution.next(series.buckets[-1])
            deliver(series.reseed(lost, *store.before(end), position))
        position += idle[frame % len(idle)]  # the clock runs on between frames: bars close by time
        deliver(series.close(position))
        at += len(chunk)
        frame += 1
    deliver(series.close(position, everything=True))

    held = client.series[(SYMBOL, code)]
    reference = store.held(0, 2**40)
    assert held.bars == reference.bars
    assert held.values == reference.values
    assert held.mark_keys() == reference.mark_keys()
    assert len(series.entries) <= series.limit + 1


def test_a_late_tick_inside_the_window_is_a_correction_and_recloses_later_bars() -> None:
    resolution = parse_resolution("1")
    series = SeriesReplay((SYMBOL, "1"), resolution, T0, FUNCTIONS, window=100)
    series.start([], None)

    def frame(ts: int, price: float, seq: int, position: int) -> list[Event]:
        seconds = fold_seconds(columns([(ts, price, 1.0)]), np.array([seq], dtype=np.int64)).bars
        events, lost = series.apply(seconds, position)
        assert not lost
        return events

    first = frame(T0 + 1_000, 10.0, 0, T0 + 1_001)
    assert [e.kind for e in first] == ["bar"]
    second = frame(T0 + 61_000, 11.0, 1, T0 + 61_001)
    assert [e.kind for e in second] == ["bar", "indicators"]
    assert (second[1].data["from"], second[1].data["to"]) == (T0 // 1000, T0 // 1000)
    late = frame(T0 + 30_000, 50.0, 2, T0 + 61_002)
    assert [e.kind for e in late] == ["correction", "indicators"]
    assert late[0].data["high"] == 50.0 and late[0].data["close"] == 50.0
    assert late[1].data["from"] == T0 // 1000
    # the replay clock passing the bar's end closes it, without a tick
    assert [e.kind for e in series.close(T0 + 120_000)] == ["indicators"]
    assert series.close(T0 + 130_000) == []


def test_a_tick_older_than_the_window_resets_that_stretch_and_reseeds_from_the_store() -> None:
    """Seven minute bars in order, then a tick for the first minute that changes its
    close: the window (2 bars) has forgotten it, so the client refetches it and every
    later bar's values follow from the store's, the bar the window still holds included."""
    resolution = parse_resolution("1")
    order = [(T0 + m * 60_000 + 1_000, float(10 + m), 1.0) for m in range(7)] + [(T0 + 59_000, 40.0, 1.0)]
    final = aggregate((SYMBOL, ts, price, qty, seq) for seq, (ts, price, qty) in enumerate(order))
    replayed = sorted((key[2], bar) for key, bar in final.items() if key[1] == "1")
    bars = [FunctionBar.of(bucket, bar) for bucket, bar in replayed]
    rows = {b // 1000: (b // 1000, x.open, x.high, x.low, x.close, float(x.volume), x.trades) for b, x in replayed}
    store = Store(bars, whole(FUNCTIONS, (SYMBOL, "1"), bars), rows)
    series = SeriesReplay((SYMBOL, "1"), resolution, T0, FUNCTIONS, window=2)
    series.start([], None)
    client = ReplayClient(refetch=lambda _s, _r, start, end: store.held(start, end))
    position = T0
    for seq, tick in enumerate(order):
        if 0 < seq < 7:  # the clock passes the bar's end before the next bar opens: it closes by time
            client.apply_all((e.kind, e.data) for e in series.close(position + 60_000))
        position = max(position, tick[0] + 1)
        seconds = fold_seconds(columns([tick]), np.array([seq], dtype=np.int64)).bars
        events, lost = series.apply(seconds, position)
        client.apply_all((e.kind, e.data) for e in events)
        if lost:
            end = series.buckets[series.edge]
            assert lost == [T0] and seq == 7
            events = series.reseed(lost, *store.before(end), position)
            client.apply_all((e.kind, e.data) for e in events)
    client.apply_all((e.kind, e.data) for e in series.close(position, everything=True))
    assert "reset" in client.kinds
    held = client.series[(SYMBOL, "1")]
    reference = store.held(0, 2**40)
    assert held.bars == reference.bars and held.values == reference.values
