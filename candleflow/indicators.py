"""Pure moving-average and crossover arithmetic over a series of bar closes.

* SMA(n) at a bar: the mean of the last n closes including that bar (their correctly
  rounded sum, `math.fsum`, divided by n); undefined until n bars exist.
* EMA(n): alpha = 2 / (n + 1), starting at the first close and then
  `(1 - alpha) * previous + alpha * close` (pandas' `ewm(span=n, adjust=False)`).
* A golden cross at bar i: SMA(fast) - SMA(slow) was <= 0 at bar i-1 and is > 0 at i;
  a death cross: >= 0 then < 0. Both SMAs must be defined at both bars.

The engine recomputes a series from its earliest changed bar: `recompute` takes the bars
before it (at most `max(periods)` of them, or the whole history when shorter) and the
EMAs stored at the last of those, and returns the values of every bar from there on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import fsum


@dataclass(frozen=True, slots=True)
class IndicatorValue:
    bucket: int
    kind: str  # "sma" or "ema"
    period: int
    value: float


@dataclass(frozen=True, slots=True)
class Cross:
    bucket: int
    kind: str  # "golden_cross" or "death_cross"
    price: float


@dataclass(frozen=True, slots=True)
class Recomputed:
    values: list[IndicatorValue]
    crosses: list[Cross]
    #: EMA per period at each recomputed bar, oldest first (to seed the next batch).
    emas: list[dict[int, float]]


def alpha(period: int) -> float:
    return 2.0 / (period + 1)


def sma_at(closes: Sequence[float], index: int, period: int) -> float | None:
    """SMA(period) of the bar at `index`, or None while fewer than `period` bars exist."""
    if index + 1 < period:
        return None
    return fsum(closes[index + 1 - period : index + 1]) / period


def crossing(previous: float | None, current: float | None) -> str | None:
    """The cross between two consecutive (fast - slow) differences, if any."""
    if previous is None or current is None:
        return None
    if previous <= 0 < current:
        return "golden_cross"
    if previous >= 0 > current:
        return "death_cross"
    return None


def _difference(closes: Sequence[float], index: int, fast: int, slow: int) -> float | None:
    if index < 0:
        return None
    quick, steady = sma_at(closes, index, fast), sma_at(closes, index, slow)
    if quick is None or steady is None:
        return None
    return quick - steady


def recompute(
    prefix_closes: Sequence[float],
    prefix_emas: Mapping[int, float] | None,
    suffix: Sequence[tuple[int, float]],
    periods: Sequence[int],
    crossover: tuple[int, int],
) -> Recomputed:
    """Indicators and crosses of the `suffix` bars `(bucket_ms, close)`.

    `prefix_closes` are the closes just before the suffix, oldest first: at least
    `max(periods)` of them, or the series' whole history when it is shorter.
    `prefix_emas` holds each period's EMA at the last prefix bar (None when the prefix is
    empty, i.e. the suffix starts the series).
    """
    if not set(crossover) <= set(periods):
        raise ValueError(f"crossover periods {crossover} must be among the periods {tuple(periods)}")
    if prefix_closes and prefix_emas is None:
        raise ValueError("a non-empty prefix needs the EMAs at its last bar")
    closes = list(prefix_closes) + [close for _, close in suffix]
    start = len(prefix_closes)
    ema = dict(prefix_emas) if prefix_emas else {}
    fast, slow = crossover
    values: list[IndicatorValue] = []
    crosses: list[Cross] = []
    emas: list[dict[int, float]] = []
    previous_difference = _difference(closes, start - 1, fast, slow)
    weights = {period: alpha(period) for period in periods}
    for offset, (bucket, close) in enumerate(suffix):
        index = start + offset
        averages: dict[int, float | None] = {}
        for period in periods:
            average = averages[period] = sma_at(closes, index, period)
            if average is not None:
                values.append(IndicatorValue(bucket, "sma", period, average))
            weight = weights[period]
            previous = ema.get(period)
            ema[period] = close if previous is None else (1 - weight) * previous + weight * close
            values.append(IndicatorValue(bucket, "ema", period, ema[period]))
        emas.append(dict(ema))
        quick, steady = averages[fast], averages[slow]
        difference = None if quick is None or steady is None else quick - steady
        kind = crossing(previous_difference, difference)
        if kind is not None:
            crosses.append(Cross(bucket, kind, close))
        previous_difference = difference
    return Recomputed(values, crosses, emas)
