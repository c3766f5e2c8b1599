"""pricescale: an explicit tick size wins; otherwise the fewest decimals that cover most
recent prices, so one outlier does not set it for good."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.fold import fold_seconds
from candleflow.domain.pricescale import (
    BUCKETS,
    KEEP,
    MAX_MINMOV,
    SHARE,
    TickSize,
    covering_decimals,
    merge_counts,
    one_price,
    parse_tick_size,
    pricescale,
)
from candleflow.domain.tick_decode import TickColumns


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ("0.01", TickSize("0.01", 2, 1)),
        ("0.0100", TickSize("0.01", 2, 1)),
        ("0.05", TickSize("0.05", 2, 5)),
        ("0.25", TickSize("0.25", 2, 25)),
        ("1", TickSize("1", 0, 1)),
        ("5", TickSize("5", 0, 5)),
        ("1E-8", TickSize("0.00000001", 8, 1)),
        (0.5, TickSize("0.5", 1, 5)),
        (10, TickSize("10", 0, 10)),
    ],
)
def test_a_tick_size_sets_pricescale_and_minmov(given_: object, expected: TickSize) -> None:
    assert parse_tick_size(given_) == expected


@pytest.mark.parametrize(
    "bad", ["0", "-0.01", "abc", "", "NaN", "Infinity", "1e-16", "2000000", "0.123456789", True, None, [1]]
)
def test_a_tick_size_that_sets_no_scale_is_refused(bad: object) -> None:
    with pytest.raises(InvalidTick, match="tick_size"):
        parse_tick_size(bad)


@given(st.one_of(st.decimals(allow_nan=True, allow_infinity=True).map(str), st.floats(), st.text(max_size=30)))
def test_an_accepted_tick_size_always_fits_the_store(value: object) -> None:
    try:
        size = parse_tick_size(value)
    except InvalidTick:
        return
    assert 0 <= size.decimals <= BUCKETS - 1
    assert 1 <= size.minmov <= MAX_MINMOV < 2**31
    assert parse_tick_size(size.text) == size


def test_one_outlier_among_many_does_not_move_the_scale() -> None:
    counts = merge_counts(one_price(2), [0] * BUCKETS)
    for _ in range(40):
        counts = merge_counts(counts, one_price(2))
    counts = merge_counts(counts, one_price(15))  # the 1e-15 tick of the report
    assert covering_decimals(counts) == 2
    assert pricescale(covering_decimals(counts)) == 100


def test_finer_prices_that_are_common_widen_the_scale() -> None:
    counts = [0, 0, 80, 0, 20] + [0] * (BUCKETS - 5)  # a fifth of the prices have 4 places
    assert covering_decimals(counts) == 4


def test_nothing_counted_is_zero_decimals() -> None:
    assert covering_decimals([0] * BUCKETS) == 0
    assert covering_decimals([]) == 0


counts_lists = st.lists(st.integers(0, 10**6), min_size=BUCKETS, max_size=BUCKETS)


@given(counts_lists)
def test_the_covering_decimals_are_the_fewest_that_cover_the_share(counts: list[int]) -> None:
    places = covering_decimals(counts)
    total = sum(counts)
    if total == 0:
        assert places == 0
        return
    assert sum(counts[: places + 1]) >= SHARE * total
    assert places == 0 or sum(counts[:places]) < SHARE * total


@given(counts_lists, counts_lists)
def test_merging_adds_and_halves_what_was_held_once_it_is_more_than_kept(held: list[int], more: list[int]) -> None:
    merged = merge_counts(held, more)
    halve = sum(held) + sum(more) > KEEP
    assert merged == [(h // 2 if halve else h) + m for h, m in zip(held, more, strict=True)]
    assert sum(merged) <= max(sum(held) + sum(more), 0)


@given(st.lists(st.lists(st.integers(0, 3000), min_size=BUCKETS, max_size=BUCKETS), min_size=1, max_size=60))
def test_the_histogram_stays_bounded_however_many_prices_come(batches: list[list[int]]) -> None:
    counts: list[int] = [0] * BUCKETS
    largest = max(sum(batch) for batch in batches)
    for batch in batches:
        counts = merge_counts(counts, batch)
        assert sum(counts) <= KEEP + 2 * largest


def test_the_fold_counts_decimals_and_takes_the_latest_tick_size() -> None:
    prices = [97000.12, 97000.1, 97000.0, 1e-15, 97000.55]
    ticks = TickColumns(
        np.arange(5, dtype=np.int64),
        ["Coinbase:BTC/USD"] * 5,
        np.array([1000, 2000, 3000, 4000, 5000], dtype=np.int64) + 1_732_406_400_000,
        np.array(prices, dtype=np.float64),
        np.ones(5, dtype=np.float64),
        [None, "0.01", None, None, "0.05"],
    )
    seen = fold_seconds(ticks, np.arange(5, dtype=np.int64)).seen["Coinbase:BTC/USD"]
    assert seen.counts is not None
    assert seen.counts[:3] == [1, 1, 2] and seen.counts[15] == 1 and sum(seen.counts) == 5
    assert seen.decimals == 15
    assert seen.tick == TickSize("0.05", 2, 5)
