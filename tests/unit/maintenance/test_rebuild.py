"""Pure parts of `candleflow replay`: the cutoff, the offsets a run reads and commits,
and the series indicators (folding records into bars: tests/unit/domain/test_fold.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from candleflow.domain.bars import Bar
from candleflow.domain.resolution import SUPPORTED
from candleflow.functions.api import FunctionBar
from candleflow.functions.builtin import EMA, SMA, Crossover
from candleflow.functions.recompute import seeds_from, whole
from candleflow.functions.registry import FunctionSet
from candleflow.kafka.log_reader import Span
from candleflow.maintenance.rebuild.series import Base, bars_by_series, indicator_rows, merged
from candleflow.maintenance.rebuild.window import catch_up, cutoff, final_offsets, targets


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        ("2024-12-10T12:34:56", "2024-11-25"),  # Dec 1 is a Sunday
        ("2024-07-01T00:00:00", "2024-07-01"),  # the 1st is a Monday
        ("2024-09-30T23:59:59", "2024-08-26"),  # Sep 1 is a Sunday
        ("2025-01-01T00:00:00", "2024-12-30"),  # across a year
    ],
)
def test_cutoff_is_the_monday_on_or_before_the_first_of_the_month(instant: str, expected: str) -> None:
    assert cutoff(ms(instant)) == ms(expected)


def test_every_bucket_from_the_cutoff_on_starts_at_or_after_it() -> None:
    rnd = random.Random(3)
    for _ in range(500):
        instant = rnd.randrange(ms("2020-01-01"), ms("2030-01-01"))
        cut = cutoff(instant)
        assert datetime.fromtimestamp(cut / 1000, UTC).weekday() == 0
        for resolution in SUPPORTED:
            if resolution.is_monthly:  # the month of --from is rebuilt whole
                assert cut <= resolution.floor(instant)
            else:  # no bucket straddles the cutoff
                assert resolution.floor(cut) == cut


def test_targets_and_the_ledger_after_the_swap() -> None:
    ends = {0: 100, 1: 50, 2: 10}
    ledger = {0: 80, 1: 50}  # partition 2: no engine absorbed anything
    stop = targets(ledger, ends)
    assert stop == {0: 80, 1: 50, 2: 10}
    locked = {0: 95, 1: 50, 2: 0}  # the engine went on meanwhile on partition 0
    assert catch_up(stop, locked) == {0: Span(80, 95)}
    assert final_offsets(stop, locked) == {0: 95, 1: 50, 2: 10}
    assert Span(5, 3).size == 0


def test_series_merge_kept_bars_and_continue_from_the_prefix() -> None:
    functions = FunctionSet.of([SMA(period=2), EMA(period=3), Crossover(fast=2, slow=3)])
    history = [_function_bar(bucket, close) for bucket, close in ((1, 1.0), (2, 2.0), (3, 3.0), (4, 9.0))]
    full = whole(functions, KEY, [*history, _function_bar(20, 7.0), _function_bar(30, 6.0)])
    seeds = seeds_from(functions, {(k, p): v for k, p, b, v in full.values if b == 4})
    base = Base(prefix=history[1:], seeds=seeds, kept={10: _function_bar(10, 9.0), 20: _function_bar(20, 8.0)})
    rebuilt = {20: _function_bar(20, 7.0), 30: _function_bar(30, 6.0)}
    assert merged(rebuilt, base) == [_function_bar(10, 9.0), rebuilt[20], rebuilt[30]]
    bars = {("S:A/B", "1", 20): _bar(7.0), ("S:A/B", "1", 30): _bar(6.0)}
    assert bars_by_series(bars) == {KEY: {20: _function_bar(20, 7.0), 30: _function_bar(30, 6.0)}}
    ((values, marks),) = list(indicator_rows({KEY: rebuilt}, {KEY: base}, functions, 5))
    series = [*history, _function_bar(10, 9.0), _function_bar(20, 7.0), _function_bar(30, 6.0)]
    expected = whole(functions, KEY, series)
    assert values == [(*KEY, k, p, b, v) for k, p, b, v in expected.values if b >= 10]
    assert marks == [
        (*KEY, m.bucket, m.signal, m.kind, m.label, m.text, m.tone, m.price) for m in expected.marks if m.bucket >= 10
    ]
    assert marks, "the example has a cross to compare"


KEY = ("S:A/B", "1")


def _function_bar(bucket: int, close: float) -> FunctionBar:
    return FunctionBar(bucket, close, close, close, close, 1.0)


def _bar(close: float) -> Bar:
    return Bar(close, close, close, close, Decimal(1), 1, 0, 0, 0, 0)
