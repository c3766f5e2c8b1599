"""Exact decimals of float arrays against `repr`: the places of each value, and group sums
equal to adding `Decimal(repr(q))` one by one — digits and exponent, not only value."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from candleflow.domain.bars import VOLUME_CONTEXT
from candleflow.domain.decimals import MOST_PLACES, Volumes, places
from candleflow.domain.ticks import price_decimals

#: Values written with a few decimals (what trades carry), and any float at all.
written = st.builds(lambda units, scale: units / 10**scale, st.integers(0, 10**12), st.integers(0, 12)) | st.floats(
    min_value=0, max_value=1e12, allow_nan=False
)
quantities = st.one_of(
    written,
    st.sampled_from([0.0, -0.0, 5e-324, 1e-5, 1.5e-7, 2.0, 1e7, 9.9e7, 1e16, 123456789.123]),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=300)
@given(st.lists(written, min_size=1, max_size=50))
def test_places_are_the_places_of_the_shortest_text(values: list[float]) -> None:
    found = places(np.array(values, dtype=np.float64)).tolist()
    for value, got in zip(values, found, strict=True):
        if got >= 0:
            assert got == price_decimals(value)
        else:  # only what the rule says it cannot do: over 15 places or 15 significant digits
            digits = Decimal(repr(value)).normalize().as_tuple()
            assert price_decimals(value) > MOST_PLACES or len(digits.digits) > 15


def test_places_of_well_known_values() -> None:
    values = [97000.5, 97000.0, 0.00012, 1e-8, 12.34, 0.1, 0.3, 1 / 3, 2.0**60]
    assert places(np.array(values)).tolist() == [1, 0, 5, 8, 2, 1, 1, -1, -1]


def one_by_one(amounts: list[float]) -> Decimal:
    total = Decimal(repr(amounts[0]))
    for amount in amounts[1:]:
        total = VOLUME_CONTEXT.add(total, Decimal(repr(amount)))
    return total


@settings(max_examples=400)
@given(st.lists(st.lists(quantities, min_size=1, max_size=12), min_size=1, max_size=8))
def test_group_sums_equal_adding_each_quantity_as_its_decimal(groups: list[list[float]]) -> None:
    flat = [q for group in groups for q in group]
    starts = np.cumsum([0] + [len(g) for g in groups[:-1]]).astype(np.int64)
    volumes = Volumes(np.array(flat, dtype=np.float64), starts)
    for n, group in enumerate(groups):
        got, want = volumes.total(n), one_by_one(group)
        assert got.as_tuple() == want.as_tuple(), (group, got, want)


def test_sums_keep_the_exponent_of_their_most_precise_quantity() -> None:
    starts = np.array([0, 2, 4, 6], dtype=np.int64)
    volumes = Volumes(np.array([0.5, 0.5, 2.0, 3.0, 5e-05, 0.1, -0.0, -0.0]), starts)
    assert [str(volumes.total(g)) for g in range(4)] == ["1.0", "5.0", "0.10005", "-0.0"]
