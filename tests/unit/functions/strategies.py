"""Hypothesis strategies shared by the function tests: series of bars."""

from __future__ import annotations

from hypothesis import strategies as st

from candleflow.functions.api import FunctionBar

prices = st.floats(min_value=1, max_value=1000, allow_nan=False, allow_infinity=False)
#: Few distinct prices make ties (flat stretches, equal averages) likely.
coarse = st.integers(min_value=1, max_value=6).map(float)
volumes = st.one_of(st.just(0.0), st.floats(min_value=0.001, max_value=50, allow_nan=False))


@st.composite
def bar_series(draw: st.DrawFn, min_size: int = 1, max_size: int = 60) -> list[FunctionBar]:
    price = draw(st.sampled_from([prices, coarse]))
    closes = draw(st.lists(price, min_size=min_size, max_size=max_size))
    bars = []
    for i, close in enumerate(closes):
        spread = draw(st.floats(min_value=0, max_value=5, allow_nan=False))
        bars.append(
            FunctionBar(1_000 * (i + 1) * 60, close, close + spread, max(close - spread, 0.5), close, draw(volumes))
        )
    return bars
