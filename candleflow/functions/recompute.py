"""The one series recompute, pure: a stretch of bars in, stored values and marks out.

Every writer of indicators (the live engine, `candleflow replay`, backfill) and `db verify`
recompute a series the same way: from its earliest changed bar `since`, given the
`needed` bars before it (`FunctionSet.needed`: the longest warm-up plus one) and the
stored outputs of the bar just before it (`seeds`), which recurrent indicators continue
from. When the series has fewer bars before `since` than that, the bars start at the
series' first bar and there are no seeds: everything is computed from the start, and
only the bars from `since` on are returned. Either way the result equals a computation
over the whole series (`tests/unit/functions/test_recompute.py` proves it per function).

A failing step (an exception, a non-finite value, a wrong number of outputs) gives its
bar no value and is counted in `Computed.failures` under the function's name; the other
functions and the bars go on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from candleflow.functions.api import Bar, Columns, Indicator, Outputs, Point, Signal, Window
from candleflow.functions.registry import FunctionSet

SeriesKey = tuple[str, str]  # (symbol, resolution code)
#: (kind, period, bucket ms, value): one row of `indicators`.
ValueRow = tuple[str, int, int, float]
Seeds = Mapping[Indicator, Outputs | None]


@dataclass(frozen=True, slots=True)
class MarkRow:
    """One row of `marks`: a signal's mark at a bar (`price`: that bar's close)."""

    bucket: int
    signal: str
    kind: str
    label: str
    text: str
    tone: str
    price: float


@dataclass(slots=True)
class SeriesInput:
    """What one series' recompute reads.

    `bars[start:]` are recomputed (bucket `>= since`); `bars[:start]` come before. `seeds`
    are the stored outputs at `bars[start - 1]`; None means `bars[0]` is the series' first
    bar and everything is computed from there.
    """

    key: SeriesKey
    since: int
    bars: list[Bar]
    start: int
    seeds: dict[Indicator, Outputs | None] | None


@dataclass
class Failure:
    count: int = 0
    first: str = ""


@dataclass
class Computed:
    values: list[ValueRow] = field(default_factory=list)
    marks: list[MarkRow] = field(default_factory=list)
    #: (kind, period, bucket) of recomputed bars without a value: a value stored there before is stale
    cleared: list[tuple[str, int, int]] = field(default_factory=list)
    #: outputs of every indicator at each bar of `bars[start:]` (for the engine's tail cache)
    outputs: list[dict[Indicator, Outputs | None]] = field(default_factory=list)
    failures: dict[str, Failure] = field(default_factory=dict)

    def fail(self, name: str, reason: str) -> None:
        failure = self.failures.setdefault(name, Failure())
        failure.count += 1
        if not failure.first:
            failure.first = reason[:300]


def missing_seeds(functions: FunctionSet, seeds: Seeds) -> bool:
    """Whether a recurrent indicator has no stored value to continue from."""
    return any(ind.recurrent and seeds.get(ind) is None for ind in functions.indicators)


def seeds_from(functions: FunctionSet, stored: Mapping[tuple[str, int], float]) -> dict[Indicator, Outputs | None]:
    """Each indicator's outputs from the stored `(kind, period) -> value` of one bar."""
    seeds: dict[Indicator, Outputs | None] = {}
    for indicator in functions.indicators:
        lines = [stored.get(indicator.stored(line)) for line in indicator.outputs]
        seeds[indicator] = None if any(v is None for v in lines) else tuple(v for v in lines if v is not None)
    return seeds


def _outputs(indicator: Indicator, raw: object, computed: Computed) -> Outputs | None:
    if raw is None:
        return None
    values = (raw,) if isinstance(raw, int | float) else raw
    if not isinstance(values, tuple) or len(values) != len(indicator.outputs):
        computed.fail(indicator.key, f"returned {raw!r}, not {len(indicator.outputs)} number(s) {indicator.outputs}")
        return None
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
        computed.fail(indicator.key, f"returned a non-finite or non-numeric value {raw!r}")
        return None
    return tuple(float(v) for v in values)


class _Runner:
    def __init__(self, functions: FunctionSet, bars: Sequence[Bar], computed: Computed) -> None:
        self.functions = functions
        self.bars = bars
        self.columns = Columns(bars)
        self.computed = computed

    def indicator(self, indicator: Indicator, index: int, previous: Outputs | None) -> Outputs | None:
        window = Window(self.columns, max(0, index - indicator.warmup), index + 1)
        try:
            raw = indicator.step(window, previous)
        except Exception as exc:  # a user function's bug must not stop the series
            self.computed.fail(indicator.key, f"{type(exc).__name__}: {exc}")
            return None
        return _outputs(indicator, raw, self.computed)

    def signal(self, signal: Signal, previous: Point | None, current: Point) -> MarkRow | None:
        try:
            mark = signal.step(previous, current)
        except Exception as exc:  # as above
            self.computed.fail(signal.key, f"{type(exc).__name__}: {exc}")
            return None
        if mark is None:
            return None
        bar = current.bar
        return MarkRow(bar.bucket, signal.key, mark.kind, mark.label, mark.text, mark.tone, bar.close)


def compute(functions: FunctionSet, series: SeriesInput) -> Computed:
    """Values and marks of `series.bars[series.start:]` (see the module docstring)."""
    bars, start = series.bars, series.start
    computed = Computed()
    runner = _Runner(functions, bars, computed)
    indicators = functions.indicators
    stored = {ind: [ind.stored(line) for line in ind.outputs] for ind in indicators}
    outputs: dict[Indicator, Outputs | None]
    point: Point | None = None
    if series.seeds is None:
        first = 0
        outputs = dict.fromkeys(indicators)
    else:
        if start < 1:
            raise ValueError("seeds need a bar before the first recomputed one")
        first = start
        outputs = {}
        for ind in indicators:
            seeded = series.seeds.get(ind)
            outputs[ind] = seeded if ind.recurrent else runner.indicator(ind, start - 1, None)
        point = Point(bars[start - 1], outputs)
    for index in range(first, len(bars)):
        current = {ind: runner.indicator(ind, index, outputs[ind]) for ind in indicators}
        here = Point(bars[index], current)
        if index >= start:
            bucket = bars[index].bucket
            for ind, values in current.items():
                if values is None:
                    computed.cleared.extend((kind, period, bucket) for kind, period in stored[ind])
                else:
                    computed.values.extend(
                        (kind, period, bucket, value) for (kind, period), value in zip(stored[ind], values, strict=True)
                    )
            for signal in functions.signals:
                mark = runner.signal(signal, point, here)
                if mark is not None:
                    computed.marks.append(mark)
            computed.outputs.append(current)
        point, outputs = here, current
    return computed


def whole(functions: FunctionSet, key: SeriesKey, bars: list[Bar]) -> Computed:
    """A plain recompute of a whole series (the reference every other path must equal)."""
    return compute(functions, SeriesInput(key, 0, bars, 0, None))
