"""Moving averages and crossover marks of every rebuilt series, from scratch.

A series is the rebuilt bars of one (symbol, resolution) merged with the bars the
rebuild keeps at or after the cutoff (REST backfill bars: a tick bar replaces a REST
bar of the same bucket, as in the engine). With `--from`, the series continues from the
bars before the cutoff: up to `max(periods)` of their closes and the EMAs at the last
one (`Base`), read from the database exactly like the engine's cache-miss path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from candleflow.bars import Bar, BarKey, SeriesKey
from candleflow.indicators import recompute

IndicatorRow = tuple[str, str, str, int, int, float]  # symbol, resolution, kind, period, bucket ms, value
MarkRow = tuple[str, str, int, str, int, int, float]  # symbol, resolution, bucket ms, kind, fast, slow, price


@dataclass(slots=True)
class Base:
    """What a series keeps from before the rebuild."""

    prefix: list[float] = field(default_factory=list)  # closes just before the cutoff, oldest first
    emas: dict[int, float] | None = None  # EMA per period at the last prefix bar
    kept: dict[int, float] = field(default_factory=dict)  # bucket -> close of kept bars >= cutoff


def closes_by_series(bars: Mapping[BarKey, Bar]) -> dict[SeriesKey, dict[int, float]]:
    """bucket -> close of every rebuilt bar, per series."""
    series: dict[SeriesKey, dict[int, float]] = defaultdict(dict)
    for (symbol, resolution, bucket), bar in bars.items():
        series[(symbol, resolution)][bucket] = bar.close
    return series


def merged(rebuilt: Mapping[int, float], base: Base) -> list[tuple[int, float]]:
    """The series from the cutoff on, oldest first; rebuilt bars win over kept ones."""
    closes = dict(base.kept)
    closes.update(rebuilt)
    return sorted(closes.items())


def indicator_rows(
    series: Mapping[SeriesKey, Mapping[int, float]],
    bases: Mapping[SeriesKey, Base],
    periods: Sequence[int],
    crossover: tuple[int, int],
) -> Iterator[tuple[list[IndicatorRow], list[MarkRow]]]:
    """Per series (every key of `series` or `bases`): its indicator and mark rows."""
    fast, slow = crossover
    empty = Base()
    for key in sorted(series.keys() | bases.keys()):
        symbol, resolution = key
        base = bases.get(key, empty)
        suffix = merged(series.get(key, {}), base)
        if not suffix:
            continue
        outcome = recompute(base.prefix, base.emas if base.prefix else None, suffix, periods, crossover)
        values = [(symbol, resolution, v.kind, v.period, v.bucket, v.value) for v in outcome.values]
        marks = [(symbol, resolution, c.bucket, c.kind, fast, slow, c.price) for c in outcome.crosses]
        yield values, marks
