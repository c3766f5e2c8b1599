"""Moving averages and crosses against straightforward definitions, and incremental
recomputation (what the engine does per batch) against computing from scratch."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from candleflow.indicators import alpha, crossing, recompute

PERIODS = (2, 3, 5)
CROSS = (2, 5)
closes_strategy = st.lists(st.floats(min_value=1, max_value=1000, allow_nan=False), min_size=1, max_size=40)


def reference(closes: list[float]) -> tuple[dict[tuple[int, str, int], float], list[tuple[int, str]]]:
    values: dict[tuple[int, str, int], float] = {}
    for period in PERIODS:
        ema = None
        for i, close in enumerate(closes):
            if i + 1 >= period:
                values[(i, "sma", period)] = math.fsum(closes[i + 1 - period : i + 1]) / period
            ema = close if ema is None else (1 - alpha(period)) * ema + alpha(period) * close
            values[(i, "ema", period)] = ema
    crosses = []
    for i in range(1, len(closes)):
        keys = [(i - 1, "sma", CROSS[0]), (i - 1, "sma", CROSS[1]), (i, "sma", CROSS[0]), (i, "sma", CROSS[1])]
        if not all(k in values for k in keys):
            continue
        quick0, steady0, quick1, steady1 = (values[k] for k in keys)
        d0, d1 = quick0 - steady0, quick1 - steady1
        if d0 <= 0 < d1:
            crosses.append((i, "golden_cross"))
        elif d0 >= 0 > d1:
            crosses.append((i, "death_cross"))
    return values, crosses


@given(closes_strategy)
def test_from_scratch_matches_reference(closes: list[float]) -> None:
    out = recompute([], None, list(enumerate(closes)), PERIODS, CROSS)
    values, crosses = reference(closes)
    assert {(v.bucket, v.kind, v.period): v.value for v in out.values} == values
    assert [(c.bucket, c.kind) for c in out.crosses] == crosses


@given(closes_strategy, st.data())
@settings(max_examples=200)
def test_recompute_from_any_bar_with_a_bounded_prefix(closes: list[float], data: st.DataObject) -> None:
    since = data.draw(st.integers(min_value=0, max_value=len(closes) - 1))
    full = recompute([], None, list(enumerate(closes)), PERIODS, CROSS)
    prefix = closes[max(0, since - max(PERIODS)) : since]
    seed = full.emas[since - 1] if since else None
    part = recompute(prefix, seed, list(enumerate(closes))[since:], PERIODS, CROSS)
    assert part.values == [v for v in full.values if v.bucket >= since]
    assert part.crosses == [c for c in full.crosses if c.bucket >= since]


def test_crossing_rules() -> None:
    assert crossing(-1.0, 1.0) == "golden_cross"
    assert crossing(0.0, 0.5) == "golden_cross"
    assert crossing(1.0, -1.0) == "death_cross"
    assert crossing(0.0, 0.0) is None
    assert crossing(None, 1.0) is None
    assert crossing(1.0, 2.0) is None
