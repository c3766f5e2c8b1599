"""Well-known functions shipped as examples of the API (enable them in CANDLEFLOW_FUNCTIONS).

* RSI(n), Wilder's: the first value at bar n averages the n close-to-close gains and
  losses; after that `avg = (previous * (n - 1) + today) / n`; RSI = 100 * gain /
  (gain + loss), 50 when both are 0. The two averages are stored as state lines.
* VWAP(n): rolling volume-weighted typical price `(high + low + close) / 3` over the last
  n bars; no value while fewer than n bars exist or their volume is 0.
* Bollinger(n, width): middle = SMA(n) of the close, upper/lower = middle +- width times
  the population standard deviation of those n closes.
* CloseCrossesEma(n): a mark where the close moves from at or below EMA(n) to above it
  (`close_above_ema`), or from at or above to below (`close_below_ema`).
"""

from __future__ import annotations

from math import fsum, sqrt

from candleflow.functions.api import Indicator, Mark, Outputs, Param, Point, Signal, Window
from candleflow.functions.builtin import EMA


class RSI(Indicator):
    name = "rsi"
    summary = "relative strength index (Wilder's smoothing), 0-100"
    params = (Param("period", 14, minimum=2, maximum=10_000, doc="bars of smoothing"),)
    outputs = ("rsi", "avg_gain", "avg_loss")
    state = ("avg_gain", "avg_loss")
    recurrent = True
    pane = "own"

    @property
    def warmup(self) -> int:
        return int(self["period"])

    def step(self, window: Window, previous: Outputs | None) -> Outputs | None:
        period = int(self["period"])
        closes = window.closes
        if previous is None:
            if len(closes) <= period:
                return None
            changes = [b - a for a, b in zip(closes[-period - 1 : -1], closes[-period:], strict=True)]
            gain = fsum(c for c in changes if c > 0) / period
            loss = fsum(-c for c in changes if c < 0) / period
        else:
            change = closes[-1] - closes[-2]
            gain = (previous[1] * (period - 1) + max(change, 0.0)) / period
            loss = (previous[2] * (period - 1) + max(-change, 0.0)) / period
        total = gain + loss
        return (100.0 * (gain / total) if total > 0 else 50.0), gain, loss


class VWAP(Indicator):
    name = "vwap"
    summary = "rolling volume-weighted average of the typical price"
    params = (Param("period", 20, minimum=1, maximum=100_000, doc="bars in the window"),)

    @property
    def warmup(self) -> int:
        return int(self["period"]) - 1

    def step(self, window: Window, previous: Outputs | None) -> float | None:
        if len(window) < int(self["period"]):
            return None
        volumes = window.volumes
        volume = fsum(volumes)
        if volume <= 0:
            return None
        typical = [(h + low + c) / 3 for h, low, c in zip(window.highs, window.lows, window.closes, strict=True)]
        return fsum(p * v for p, v in zip(typical, volumes, strict=True)) / volume


class Bollinger(Indicator):
    name = "bollinger"
    summary = "Bollinger bands: SMA of the close +- width standard deviations"
    params = (
        Param("period", 20, minimum=2, maximum=100_000, doc="bars in the average"),
        Param("width", 2.0, minimum=0.0, maximum=100.0, doc="band half-width in standard deviations"),
    )
    outputs = ("middle", "upper", "lower")

    @property
    def warmup(self) -> int:
        return int(self["period"]) - 1

    def step(self, window: Window, previous: Outputs | None) -> Outputs | None:
        period = int(self["period"])
        if len(window) < period:
            return None
        closes = window.closes
        middle = fsum(closes) / period
        spread = float(self["width"]) * sqrt(fsum((c - middle) ** 2 for c in closes) / period)
        return middle, middle + spread, middle - spread


class CloseCrossesEma(Signal):
    name = "close_crosses_ema"
    summary = "marks where the close crosses an exponential moving average"
    params = (Param("period", 50, minimum=1, maximum=100_000, doc="period of the EMA"),)

    def validate(self) -> None:
        self.ema = EMA(period=self["period"])

    def inputs(self) -> tuple[Indicator, ...]:
        return (self.ema,)

    def step(self, previous: Point | None, current: Point) -> Mark | None:
        if previous is None:
            return None
        before, now = previous.value(self.ema), current.value(self.ema)
        if before is None or now is None:
            return None
        was, is_ = previous.bar.close - before, current.bar.close - now
        period, close = self["period"], current.bar.close
        if was <= 0 < is_:
            return Mark("close_above_ema", "A", f"Close {close:g} crossed above EMA{period} ({now:g})", "up")
        if was >= 0 > is_:
            return Mark("close_below_ema", "B", f"Close {close:g} crossed below EMA{period} ({now:g})", "down")
        return None
