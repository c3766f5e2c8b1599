"""Pure parts of `candleflow replay`: the cutoff, the offsets a run reads and commits,
and the series indicators (folding records into bars: tests/unit/test_fold.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from candleflow.bars import Bar
from candleflow.indicators import recompute
from candleflow.kafka_log import Span
from candleflow.rebuild.series import Base, closes_by_series, indicator_rows, merged
from candleflow.rebuild.window import catch_up, cutoff, final_offsets, targets
from candleflow.resolution import SUPPORTED


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
    base = Base(prefix=[1.0, 2.0, 3.0], emas={2: 2.5, 3: 2.0}, kept={10: 9.0, 20: 8.0})
    assert merged({20: 7.0, 30: 6.0}, base) == [(10, 9.0), (20, 7.0), (30, 6.0)]
    bars = {("S:A/B", "1", 20): 7.0, ("S:A/B", "1", 30): 6.0}
    series = {("S:A/B", "1"): {20: 7.0, 30: 6.0}}
    assert closes_by_series({k: _bar(v) for k, v in bars.items()}) == series
    ((values, marks),) = list(indicator_rows(series, {("S:A/B", "1"): base}, (2, 3), (2, 3)))
    outcome = recompute([1.0, 2.0, 3.0], {2: 2.5, 3: 2.0}, [(10, 9.0), (20, 7.0), (30, 6.0)], (2, 3), (2, 3))
    assert values == [("S:A/B", "1", v.kind, v.period, v.bucket, v.value) for v in outcome.values]
    assert marks == [("S:A/B", "1", c.bucket, c.kind, 2, 3, c.price) for c in outcome.crosses]


def _bar(close: float) -> Bar:
    return Bar(close, close, close, close, Decimal(1), 1, 0, 0, 0, 0)
