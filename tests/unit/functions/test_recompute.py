"""The one series recompute: from any bar, with the prefix and seeds a writer reads back
from the database (or from the engine's tail cache), it equals a plain recompute of the
whole series — for every shipped function, and for failing ones too."""

from __future__ import annotations

import math
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from candleflow.core.settings import Settings
from candleflow.engine.bar_engine import BarEngine
from candleflow.functions.api import Function, FunctionBar, Outputs, Window
from candleflow.functions.builtin import EMA, SMA, Crossover
from candleflow.functions.examples import RSI, VWAP, Bollinger, CloseCrossesEma
from candleflow.functions.recompute import Computed, MarkRow, SeriesInput, compute, missing_seeds, seeds_from, whole
from candleflow.functions.registry import FunctionSet
from tests.unit.functions.strategies import bar_series

KEY = ("S:A/B", "1")
#: Short periods, so that warm-ups end inside the generated series.
SHIPPED: list[Function] = [
    SMA(period=2),
    EMA(period=3),
    RSI(period=3),
    VWAP(period=2),
    Bollinger(period=4, width=1.5),
    Crossover(fast=2, slow=4),
    CloseCrossesEma(period=3),
]


class Flaky(EMA):
    """A recurrent indicator that raises at some bars and returns NaN at others."""

    name = "flaky"

    def step(self, window: Window, previous: Outputs | None) -> float:
        close = window.bar.close
        if close % 7 < 1:
            raise ZeroDivisionError("close is a multiple of 7")
        if close % 5 < 1:
            return math.nan
        return float(super().step(window, previous))


def stored(computed: Computed) -> dict[int, dict[tuple[str, int], float]]:
    """The `indicators` rows of a result, per bucket (what the database would hold)."""
    rows: dict[int, dict[tuple[str, int], float]] = {}
    for kind, period, bucket, value in computed.values:
        rows.setdefault(bucket, {})[(kind, period)] = value
    return rows


def from_stored(functions: FunctionSet, bars: Sequence[FunctionBar], index: int, full: Computed) -> SeriesInput:
    """What `store.series.load` reads for a recompute from `bars[index]`."""
    needed = functions.needed
    since = bars[index].bucket
    if index < needed:
        return SeriesInput(KEY, since, list(bars), index, None)
    seeds = seeds_from(functions, stored(full).get(bars[index - 1].bucket, {}))
    if missing_seeds(functions, seeds):  # the store falls back to the whole history
        return SeriesInput(KEY, 0, list(bars), 0, None)
    return SeriesInput(KEY, since, list(bars[index - needed :]), needed, seeds)


def _after(full: Computed, since: int) -> tuple[list[object], list[object]]:
    return [v for v in full.values if v[2] >= since], [m for m in full.marks if m.bucket >= since]


@given(bar_series(), st.data())
@settings(max_examples=300)
def test_recompute_from_any_bar_equals_the_whole_series(bars: list[FunctionBar], data: st.DataObject) -> None:
    functions = FunctionSet.of(SHIPPED)
    full = whole(functions, KEY, bars)
    index = data.draw(st.integers(min_value=0, max_value=len(bars) - 1))
    item = from_stored(functions, bars, index, full)
    assert item.since == bars[index].bucket, "shipped functions always leave seeds to continue from"
    part = compute(functions, item)
    assert (part.values, part.marks) == _after(full, item.since)
    assert not part.failures


@given(bar_series(), st.data())
@settings(max_examples=200)
def test_a_failing_function_leaves_the_others_alone_and_stays_exact(
    bars: list[FunctionBar], data: st.DataObject
) -> None:
    healthy = FunctionSet.of(SHIPPED)
    functions = FunctionSet.of([*SHIPPED, Flaky(period=3)])
    full = whole(functions, KEY, bars)
    flaky_kind = Flaky(period=3).stored()
    assert [v for v in full.values if v[:2] != flaky_kind] == whole(healthy, KEY, bars).values
    failed = [b for b in bars if b.close % 7 < 1 or b.close % 5 < 1]
    assert full.failures.get("flaky(period=3)", None) is None or full.failures["flaky(period=3)"].count == len(failed)
    assert {v[2] for v in full.values if v[:2] == flaky_kind} == {b.bucket for b in bars} - {b.bucket for b in failed}
    index = data.draw(st.integers(min_value=0, max_value=len(bars) - 1))
    item = from_stored(functions, bars, index, full)
    part = compute(functions, item)
    assert (part.values, part.marks) == _after(full, item.since)


@given(bar_series(min_size=1, max_size=50), st.lists(st.tuples(st.integers(0, 60), st.floats(1, 9)), max_size=25))
@settings(max_examples=150)
def test_the_engines_tail_cache_continues_exactly(bars: list[FunctionBar], changes: list[tuple[int, float]]) -> None:
    """Batches that append bars or change old ones (late ticks), each recomputed from the
    engine's tail cache when it can tell, end equal to the whole series."""
    functions = FunctionSet.of([*SHIPPED, Flaky(period=3)])
    engine = BarEngine(Settings(), pool=None, sink=None, functions=functions)  # type: ignore[arg-type]
    engine.tails.keep = functions.needed + 3  # short tails: the cache also misses
    series: dict[int, FunctionBar] = {}
    stored_values: dict[tuple[str, int, int], float] = {}
    stored_marks: dict[tuple[int, str], MarkRow] = {}
    batches = [[bar] for bar in bars] + [[_changed(bars, i, close)] for i, close in changes]
    for batch in batches:
        for bar in batch:
            series[bar.bucket] = bar
        ordered = [series[b] for b in sorted(series)]
        changed = {bar.bucket: bar for bar in batch}
        item = engine._from_cache(KEY, changed)
        if item is None:  # the store's whole-history path stands in for a database read
            item = SeriesInput(KEY, 0, ordered, 0, None)
        computed = compute(functions, item)
        for kind, period, bucket, value in computed.values:
            stored_values[(kind, period, bucket)] = value
        for cleared in computed.cleared:
            stored_values.pop(cleared, None)
        for at in [at for at in stored_marks if at[0] >= item.since]:
            del stored_marks[at]
        stored_marks.update({(m.bucket, m.signal): m for m in computed.marks})
        engine._remember(item, computed, 0)
    full = whole(functions, KEY, [series[b] for b in sorted(series)])
    assert stored_values == {(k, p, b): v for k, p, b, v in full.values}
    assert stored_marks == {(m.bucket, m.signal): m for m in full.marks}


def _changed(bars: list[FunctionBar], index: int, close: float) -> FunctionBar:
    bar = bars[min(index, len(bars) - 1)]
    return FunctionBar(bar.bucket, bar.open, max(bar.high, close), min(bar.low, close), close, bar.volume + 1)
