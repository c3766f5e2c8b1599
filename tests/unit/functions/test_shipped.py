"""Every shipped function over a whole series equals an independent reference
(`tests/harness/reference.py`, written from each indicator's textbook definition)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from candleflow.functions.api import FunctionBar, Indicator
from candleflow.functions.builtin import EMA, SMA, Crossover
from candleflow.functions.examples import RSI, VWAP, Bollinger, CloseCrossesEma
from candleflow.functions.recompute import Computed, whole
from candleflow.functions.registry import FunctionSet
from tests.harness.reference import (
    OHLCV,
    reference_bollinger,
    reference_close_crosses_ema,
    reference_ema,
    reference_rsi,
    reference_vwap,
)
from tests.unit.functions.strategies import bar_series


def _run(bars: list[FunctionBar], *functions: Indicator | Crossover | CloseCrossesEma) -> Computed:
    return whole(FunctionSet.of(functions), ("S:A/B", "1"), bars)


def _line(computed: Computed, indicator: Indicator, output: str | None = None) -> dict[int, float]:
    kind, period = indicator.stored(output)
    return {bucket: value for k, p, bucket, value in computed.values if (k, p) == (kind, period)}


def _ohlcv(bars: list[FunctionBar]) -> list[OHLCV]:
    return [OHLCV(*bar) for bar in bars]


def _defined(buckets: list[int], values: list[float | None]) -> dict[int, float]:
    return {b: v for b, v in zip(buckets, values, strict=True) if v is not None}


@given(bar_series(), st.integers(min_value=1, max_value=30))
def test_sma_and_ema(bars: list[FunctionBar], period: int) -> None:
    sma, ema = SMA(period=period), EMA(period=period)
    out = _run(bars, sma, ema)
    closes = [b.close for b in bars]
    buckets = [b.bucket for b in bars]
    means = [math.fsum(closes[i + 1 - period : i + 1]) / period if i + 1 >= period else None for i in range(len(bars))]
    assert _line(out, sma) == _defined(buckets, means)
    assert _line(out, ema) == dict(zip(buckets, reference_ema(closes, period), strict=True))


@given(bar_series(), st.integers(min_value=1, max_value=8), st.integers(min_value=1, max_value=8))
def test_crossover(bars: list[FunctionBar], fast: int, extra: int) -> None:
    slow = fast + extra
    out = _run(bars, Crossover(fast=fast, slow=slow))
    closes = [b.close for b in bars]

    def difference(i: int) -> float | None:
        if i + 1 < slow:
            return None
        return math.fsum(closes[i + 1 - fast : i + 1]) / fast - math.fsum(closes[i + 1 - slow : i + 1]) / slow

    expected = {}
    for i in range(1, len(bars)):
        before, after = difference(i - 1), difference(i)
        if before is None or after is None:
            continue
        if before <= 0 < after:
            expected[bars[i].bucket] = ("golden_cross", "G", "up")
        elif before >= 0 > after:
            expected[bars[i].bucket] = ("death_cross", "D", "down")
    assert {m.bucket: (m.kind, m.label, m.tone) for m in out.marks} == expected
    assert all(m.signal == f"crossover(fast={fast},slow={slow})" for m in out.marks)
    assert all(m.price == next(b.close for b in bars if b.bucket == m.bucket) for m in out.marks)


@given(bar_series(), st.integers(min_value=2, max_value=20))
def test_rsi(bars: list[FunctionBar], period: int) -> None:
    rsi = RSI(period=period)
    out = _run(bars, rsi)
    assert _line(out, rsi) == _defined([b.bucket for b in bars], reference_rsi(_ohlcv(bars), period))
    assert all(0 <= v <= 100 for v in _line(out, rsi).values())


@given(bar_series(), st.integers(min_value=1, max_value=20))
def test_vwap(bars: list[FunctionBar], period: int) -> None:
    vwap = VWAP(period=period)
    assert _line(_run(bars, vwap), vwap) == _defined([b.bucket for b in bars], reference_vwap(_ohlcv(bars), period))


@given(bar_series(), st.integers(min_value=2, max_value=20), st.floats(min_value=0, max_value=4))
def test_bollinger(bars: list[FunctionBar], period: int, width: float) -> None:
    bands = Bollinger(period=period, width=width)
    out = _run(bars, bands)
    expected = reference_bollinger(_ohlcv(bars), period, width)
    for line, index in (("middle", 0), ("upper", 1), ("lower", 2)):
        want = [None if e is None else e[index] for e in expected]
        assert _line(out, bands, line) == _defined([b.bucket for b in bars], want)


@given(bar_series(), st.integers(min_value=1, max_value=20))
def test_close_crosses_ema(bars: list[FunctionBar], period: int) -> None:
    out = _run(bars, CloseCrossesEma(period=period))
    assert {m.bucket: m.kind for m in out.marks} == reference_close_crosses_ema(_ohlcv(bars), period)
