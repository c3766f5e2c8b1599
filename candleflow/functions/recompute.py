"""The one series recompute, pure: a stretch of bars in, stored values and marks out.

Every writer of indicators (the live engine, `candleflow replay`, backfill) and `db verify`
recompute a series the same way: from its earliest changed bar `since`, given the
`needed` bars before it (`FunctionSet.needed`: the longest warm-up plus one) and the
outputs of the indicators at the bar just before it (`seeds`): recurrent indicators
continue from them, and signals compare the first recomputed bar with them. An
indicator absent from `seeds` (e.g. nothing stored: no value, or a function new to the
configuration) is computed at that bar from its window; a recurrent one cannot be, so
the caller falls back to the whole history (`missing_seeds`). When the series has fewer
bars before `since` than `needed`, the bars start at the series' first bar and there are
no seeds: everything is computed from the start, and only the bars from `since` on are
returned. Either way the result equals a computation
over the whole series (`tests/unit/functions/test_recompute.py` proves it per function).

A failing step (an exception, a non-finite value, a wrong number of outputs) gives its
bar no value and is counted in `Computed.failures` under the function's name; the other
functions and the bars go on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from candleflow.functions.api import Columns, FunctionBar, Indicator, Outputs, Point, Signal, Values, Window
from candleflow.functions.registry import FunctionSet

SeriesKey = tuple[str, str]  # (symbol, resolution code)
#: (kind, period, bucket ms, value): one row of `indicators`.
ValueRow = tuple[str, int, int, float]
Seeds = Mapping[str, Outputs | None]


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
    are the indicators' outputs at `bars[start - 1]` (see the module docstring); None
    means `bars[0]` is the series' first bar and everything is computed from there.
    """

    key: SeriesKey
    since: int
    bars: list[FunctionBar]
    start: int
    seeds: Values | None


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
    outputs: list[Values] = field(default_factory=list)
    failures: dict[str, Failure] = field(default_factory=dict)

    def fail(self, name: str, reason: str) -> None:
        failure = self.failures.setdefault(name, Failure())
        failure.count += 1
        if not failure.first:
            failure.first = reason[:300]


def missing_seeds(functions: FunctionSet, seeds: Seeds) -> bool:
    """Whether a recurrent indicator has no value to continue from."""
    return any(ind.recurrent and seeds.get(ind.key) is None for ind in functions.indicators)


def seeds_from(functions: FunctionSet, stored: Mapping[tuple[str, int], float]) -> Values:
    """The outputs of every indicator all of whose lines are in the stored
    `(kind, period) -> value` of one bar (the others are left out: see `compute`)."""
    seeds: Values = {}
    for key, lines in functions.lines.items():
        found = [stored.get(at) for at in lines]
        if all(v is not None for v in found):
            seeds[key] = tuple(v for v in found if v is not None)
    return seeds


def _outputs(indicator: Indicator, raw: object, computed: Computed) -> Outputs | None:
    if type(raw) is float and len(indicator.outputs) == 1:
        if math.isfinite(raw):
            return (raw,)
    elif raw is None:
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
    """Calls the functions of one series, turning their failures into missing values."""

    def __init__(self, bars: Sequence[FunctionBar], computed: Computed) -> None:
        self.columns = Columns(bars)
        self.computed = computed

    def indicator(self, indicator: Indicator, warmup: int, index: int, previous: Outputs | None) -> Outputs | None:
        window = Window(self.columns, index - warmup if index > warmup else 0, index + 1)
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
    runner = _Runner(bars, computed)
    specs = [(ind, ind.key, ind.warmup, functions.lines[ind.key]) for ind in functions.indicators]
    signals = functions.signals
    values, cleared = computed.values, computed.cleared
    outputs: Values
    point: Point | None = None
    if series.seeds is None:
        first = 0
        outputs = dict.fromkeys(functions.lines)
    else:
        if start < 1:
            raise ValueError("seeds need a bar before the first recomputed one")
        first = start
        seeds = series.seeds
        outputs = {
            key: seeds[key] if key in seeds else runner.indicator(ind, warmup, start - 1, None)
            for ind, key, warmup, _ in specs
        }
        point = Point(bars[start - 1], outputs)
    for index in range(first, len(bars)):
        current = {key: runner.indicator(ind, warmup, index, outputs[key]) for ind, key, warmup, _ in specs}
        here = Point(bars[index], current)
        if index >= start:
            bucket = bars[index].bucket
            for _, key, _, lines in specs:
                got = current[key]
                if got is None:
                    cleared.extend((kind, period, bucket) for kind, period in lines)
                elif len(lines) == 1:
                    values.append((lines[0][0], lines[0][1], bucket, got[0]))
                else:
                    values.extend((k, p, bucket, value) for (k, p), value in zip(lines, got, strict=True))
            for signal in signals:
                mark = runner.signal(signal, point, here)
                if mark is not None:
                    computed.marks.append(mark)
            computed.outputs.append(current)
        point, outputs = here, current
    return computed


def whole(functions: FunctionSet, key: SeriesKey, bars: list[FunctionBar]) -> Computed:
    """A plain recompute of a whole series (the reference every other path must equal)."""
    return compute(functions, SeriesInput(key, 0, bars, 0, None))
