"""An operator's broken indicator, for the tests that a failing function never stops the
stream: it raises at some bars and returns infinity at others (decided by the close, so
every recompute fails at the same bars)."""

from __future__ import annotations

import math

from candleflow.functions import Indicator, Outputs, Window


class Failing(Indicator):
    name = "failing"
    summary = "fails at bars whose close in cents is a multiple of 3 (raises) or 7 (infinity)"

    def step(self, window: Window, previous: Outputs | None) -> float:
        cents = round(window.bar.close * 100)
        if cents % 3 == 0:
            raise ValueError(f"no value for a close of {window.bar.close}")
        if cents % 7 == 0:
            return math.inf
        return window.bar.close


def fails_at(close: float) -> bool:
    cents = round(close * 100)
    return cents % 3 == 0 or cents % 7 == 0
