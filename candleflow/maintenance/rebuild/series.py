"""Indicators and marks of every rebuilt series, from scratch (`functions.recompute`).

A series is the rebuilt bars of one (symbol, resolution) merged with the bars the
rebuild keeps at or after the cutoff (REST backfill bars: a tick bar replaces a REST
bar of the same bucket, as in the engine). With `--from`, the series continues from the
bars before the cutoff and the stored outputs at the last one (`Base`, read by
`candleflow.store.series.prefixes` exactly as the engine's cache-miss path reads them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from candleflow.domain.bars import Bar, BarKey, SeriesKey
from candleflow.functions.api import FunctionBar, Values
from candleflow.functions.failures import report_failures
from candleflow.functions.recompute import SeriesInput, compute
from candleflow.functions.registry import FunctionSet
from candleflow.store import series as store_series
from candleflow.store import staged
from candleflow.store.connection import Connection
from candleflow.store.staged import StagedMark, StagedValue


@dataclass(slots=True)
class Base:
    """What a series keeps from before the rebuild."""

    prefix: list[FunctionBar] = field(default_factory=list)  # bars just before the cutoff, oldest first
    #: outputs at the last prefix bar (None: the prefix starts the series)
    seeds: Values | None = None
    kept: dict[int, FunctionBar] = field(default_factory=dict)  # bucket -> kept bars >= cutoff


def bars_by_series(bars: Mapping[BarKey, Bar]) -> dict[SeriesKey, dict[int, FunctionBar]]:
    """bucket -> bar of every rebuilt bar, per series."""
    series: dict[SeriesKey, dict[int, FunctionBar]] = defaultdict(dict)
    for (symbol, resolution, bucket), bar in bars.items():
        series[(symbol, resolution)][bucket] = FunctionBar.of(bucket, bar)
    return series


def merged(rebuilt: Mapping[int, FunctionBar], base: Base) -> list[FunctionBar]:
    """The series from the cutoff on, oldest first; rebuilt bars win over kept ones."""
    bars = dict(base.kept)
    bars.update(rebuilt)
    return [bars[bucket] for bucket in sorted(bars)]


def indicator_rows(
    series: Mapping[SeriesKey, Mapping[int, FunctionBar]],
    bases: Mapping[SeriesKey, Base],
    functions: FunctionSet,
    cutoff: int,
) -> Iterator[tuple[list[StagedValue], list[StagedMark]]]:
    """Per series (every key of `series` or `bases`): its indicator and mark rows."""
    empty = Base()
    for key in sorted(series.keys() | bases.keys()):
        symbol, resolution = key
        base = bases.get(key, empty)
        suffix = merged(series.get(key, {}), base)
        if not suffix:
            continue
        item = SeriesInput(key, cutoff, base.prefix + suffix, len(base.prefix), base.seeds if base.prefix else None)
        outcome = compute(functions, item)
        report_failures(key, outcome.failures)
        values = [(symbol, resolution, kind, period, bucket, value) for kind, period, bucket, value in outcome.values]
        marks = [
            (symbol, resolution, m.bucket, m.signal, m.kind, m.label, m.text, m.tone, m.price) for m in outcome.marks
        ]
        yield values, marks


async def bases(conn: Connection, symbols: Sequence[str], since: int, functions: FunctionSet) -> dict[SeriesKey, Base]:
    """What each series of `symbols` keeps: REST bars from `since`, and (when `since` > 0)
    the bars before it and the stored outputs at the last one."""
    found: dict[SeriesKey, Base] = defaultdict(Base)
    for row in await staged.kept_bars(conn, symbols, since):
        bucket = row["bucket"]
        found[(row["symbol"], row["resolution"])].kept[bucket] = FunctionBar(
            bucket, row["open"], row["high"], row["low"], row["close"], row["volume"]
        )
    if since <= 0:
        return dict(found)
    keys = [(row["symbol"], row["resolution"]) for row in await staged.series_before(conn, symbols, since)]
    for prefix in await store_series.prefixes(conn, functions, [(key, since) for key in keys], history=False):
        base = found[prefix.key]
        base.prefix, base.seeds = prefix.bars, prefix.seeds
    return dict(found)
