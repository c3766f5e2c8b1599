"""The engine's own functions, written with the same API as an operator's.

* SMA(n) at a bar: the mean of the last n closes including that bar (their correctly
  rounded sum, `math.fsum`, divided by n); undefined until n bars exist.
* EMA(n): alpha = 2 / (n + 1), starting at the first close and then
  `(1 - alpha) * previous + alpha * close` (pandas' `ewm(span=n, adjust=False)`).
* Crossover(fast, slow): a golden cross at a bar where SMA(fast) - SMA(slow) was <= 0 at
  the bar before and is > 0; a death cross: >= 0 then < 0. Both SMAs must be defined at
  both bars.
"""

from __future__ import annotations

from math import fsum

from candleflow.functions.api import (
    FunctionConfigError,
    Indicator,
    Mark,
    Outputs,
    Param,
    Point,
    Signal,
    Window,
)

PERIOD = Param("period", 20, minimum=1, maximum=100_000, doc="bars in the average")


class SMA(Indicator):
    name = "sma"
    summary = "simple moving average of the close"
    params = (PERIOD,)

    @property
    def warmup(self) -> int:
        return int(self["period"]) - 1

    def step(self, window: Window, previous: Outputs | None) -> float | None:
        period = int(self["period"])
        if len(window) < period:
            return None
        return fsum(window.closes) / period


def alpha(period: int) -> float:
    return 2.0 / (period + 1)


class EMA(Indicator):
    name = "ema"
    summary = "exponential moving average of the close (span = period, no adjustment)"
    params = (PERIOD,)
    recurrent = True

    def step(self, window: Window, previous: Outputs | None) -> float:
        close = window.bar.close
        if previous is None:
            return close
        weight = alpha(int(self["period"]))
        return (1 - weight) * previous[0] + weight * close


def crossing(previous: float | None, current: float | None) -> str | None:
    """The cross between two consecutive (fast - slow) differences, if any."""
    if previous is None or current is None:
        return None
    if previous <= 0 < current:
        return "golden_cross"
    if previous >= 0 > current:
        return "death_cross"
    return None


class Crossover(Signal):
    name = "crossover"
    summary = "golden and death crosses of two simple moving averages"
    params = (
        Param("fast", 20, minimum=1, maximum=100_000, doc="period of the fast SMA"),
        Param("slow", 50, minimum=2, maximum=100_000, doc="period of the slow SMA"),
    )

    def validate(self) -> None:
        if self["fast"] >= self["slow"]:
            raise FunctionConfigError(f"{self.key}: fast must be below slow")
        self.fast, self.slow = SMA(period=self["fast"]), SMA(period=self["slow"])

    def inputs(self) -> tuple[Indicator, ...]:
        return self.fast, self.slow

    def _difference(self, point: Point) -> float | None:
        quick, steady = point.value(self.fast), point.value(self.slow)
        return None if quick is None or steady is None else quick - steady

    def step(self, previous: Point | None, current: Point) -> Mark | None:
        if previous is None:
            return None
        kind = crossing(self._difference(previous), self._difference(current))
        if kind is None:
            return None
        fast, slow = self["fast"], self["slow"]
        close = current.bar.close
        if kind == "golden_cross":
            return Mark(kind, "G", f"Golden cross: SMA{fast} crossed above SMA{slow} at {close:g}", "up")
        return Mark(kind, "D", f"Death cross: SMA{fast} crossed below SMA{slow} at {close:g}", "down")
