"""Independent reference aggregation for tests: a plain sort-and-group of the tick log.

Written from the invariants' words, sharing no code with `candleflow.domain.bars` or
`candleflow.indicators` beyond the resolution boundaries (which have tests of their own
against `datetime` arithmetic).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import NamedTuple

from candleflow.domain.resolution import SUPPORTED, Resolution


class LogTick(NamedTuple):
    """A tick as it sits in the log: `seq` is its offset in its partition."""

    symbol: str
    ts: int
    price: float
    qty: float
    seq: int


class RefBar(NamedTuple):
    open: float
    high: float
    low: float
    close: float
    volume: Decimal
    trades: int


BarKey = tuple[str, str, int]  # (symbol, resolution code, bucket ms)


def reference_bars(ticks: Iterable[LogTick], resolutions: Sequence[Resolution] = SUPPORTED) -> dict[BarKey, RefBar]:
    groups: dict[BarKey, list[LogTick]] = defaultdict(list)
    for tick in ticks:
        for resolution in resolutions:
            groups[(tick.symbol, resolution.code, resolution.floor(tick.ts))].append(tick)
    bars: dict[BarKey, RefBar] = {}
    for key, members in groups.items():
        ordered = sorted(members, key=lambda t: (t.ts, t.seq))
        bars[key] = RefBar(
            open=ordered[0].price,
            high=max(t.price for t in members),
            low=min(t.price for t in members),
            close=ordered[-1].price,
            volume=sum((Decimal(repr(t.qty)) for t in members), Decimal(0)),
            trades=len(members),
        )
    return bars


def reference_indicators(
    bars: dict[BarKey, RefBar], periods: Sequence[int], crossover: tuple[int, int]
) -> tuple[dict[tuple[str, str, str, int, int], float], dict[tuple[str, str, int], str]]:
    """SMA/EMA per (symbol, resolution, kind, period, bucket) and crosses per bar."""
    series: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    for (symbol, code, bucket), bar in bars.items():
        series[(symbol, code)].append((bucket, bar.close))
    values: dict[tuple[str, str, str, int, int], float] = {}
    marks: dict[tuple[str, str, int], str] = {}
    fast, slow = crossover
    for (symbol, code), points in series.items():
        points.sort()
        closes = [c for _, c in points]
        sma: dict[int, list[float | None]] = {}
        for period in periods:
            ema: float | None = None
            sma[period] = []
            weight = 2.0 / (period + 1)
            for i, (bucket, close) in enumerate(points):
                if i + 1 >= period:
                    mean = math.fsum(closes[i + 1 - period : i + 1]) / period
                    values[(symbol, code, "sma", period, bucket)] = mean
                    sma[period].append(mean)
                else:
                    sma[period].append(None)
                ema = close if ema is None else (1 - weight) * ema + weight * close
                values[(symbol, code, "ema", period, bucket)] = ema
        for i in range(1, len(points)):
            quick0, steady0, quick1, steady1 = sma[fast][i - 1], sma[slow][i - 1], sma[fast][i], sma[slow][i]
            if quick0 is None or steady0 is None or quick1 is None or steady1 is None:
                continue
            before, after = quick0 - steady0, quick1 - steady1
            if before <= 0 < after:
                marks[(symbol, code, points[i][0])] = "golden_cross"
            elif before >= 0 > after:
                marks[(symbol, code, points[i][0])] = "death_cross"
    return values, marks


class OHLCV(NamedTuple):
    bucket: int
    open: float
    high: float
    low: float
    close: float
    volume: float


def reference_rsi(bars: Sequence[OHLCV], period: int) -> list[float | None]:
    """Wilder's RSI from its textbook definition (seed with plain means, then smooth)."""
    out: list[float | None] = [None] * len(bars)
    gain = loss = 0.0
    for i in range(period, len(bars)):
        if i == period:
            moves = [bars[j].close - bars[j - 1].close for j in range(1, period + 1)]
            gain = math.fsum(m for m in moves if m > 0) / period
            loss = math.fsum(-m for m in moves if m < 0) / period
        else:
            move = bars[i].close - bars[i - 1].close
            gain = (gain * (period - 1) + max(move, 0.0)) / period
            loss = (loss * (period - 1) + max(-move, 0.0)) / period
        out[i] = 100.0 * (gain / (gain + loss)) if gain + loss > 0 else 50.0
    return out


def reference_vwap(bars: Sequence[OHLCV], period: int) -> list[float | None]:
    out: list[float | None] = []
    for i in range(len(bars)):
        window = bars[max(0, i + 1 - period) : i + 1]
        volume = math.fsum(b.volume for b in window)
        if len(window) < period or volume <= 0:
            out.append(None)
            continue
        out.append(math.fsum((b.high + b.low + b.close) / 3 * b.volume for b in window) / volume)
    return out


def reference_bollinger(bars: Sequence[OHLCV], period: int, width: float) -> list[tuple[float, float, float] | None]:
    out: list[tuple[float, float, float] | None] = []
    for i in range(len(bars)):
        if i + 1 < period:
            out.append(None)
            continue
        closes = [b.close for b in bars[i + 1 - period : i + 1]]
        mean = math.fsum(closes) / period
        deviation = math.sqrt(math.fsum((c - mean) ** 2 for c in closes) / period)
        out.append((mean, mean + width * deviation, mean - width * deviation))
    return out


def reference_ema(closes: Sequence[float], period: int) -> list[float]:
    weight = 2.0 / (period + 1)
    out: list[float] = []
    for close in closes:
        out.append(close if not out else (1 - weight) * out[-1] + weight * close)
    return out


def reference_close_crosses_ema(bars: Sequence[OHLCV], period: int) -> dict[int, str]:
    """bucket -> close_above_ema / close_below_ema."""
    ema = reference_ema([b.close for b in bars], period)
    marks: dict[int, str] = {}
    for i in range(1, len(bars)):
        before, after = bars[i - 1].close - ema[i - 1], bars[i].close - ema[i]
        if before <= 0 < after:
            marks[bars[i].bucket] = "close_above_ema"
        elif before >= 0 > after:
            marks[bars[i].bucket] = "close_below_ema"
    return marks
