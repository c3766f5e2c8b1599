"""`db verify`'s function half: stored values and marks against a plain recompute."""

from __future__ import annotations

import dataclasses

from candleflow.functions.api import FunctionBar
from candleflow.functions.builtin import SMA, Crossover
from candleflow.functions.recompute import whole
from candleflow.functions.registry import FunctionSet
from candleflow.maintenance.verify_functions import compare_series

KEY = ("S:A/B", "1")
FUNCTIONS = FunctionSet.of([Crossover(fast=2, slow=3)])
BARS = [FunctionBar(i, c, c, c, c, 1.0) for i, c in enumerate([5.0, 4.0, 3.0, 2.0, 6.0, 7.0, 1.0, 0.5])]


def test_equal_tables_have_no_differences_and_other_functions_are_ignored() -> None:
    expected = whole(FUNCTIONS, KEY, BARS)
    values = {(k, p, b): v for k, p, b, v in expected.values} | {("rsi", 14, 3): 50.0}
    marks = [*expected.marks, dataclasses.replace(expected.marks[0], signal="other(x=1)")]
    compared, found = compare_series(KEY, expected, values, marks, FUNCTIONS, lambda _: True)
    assert expected.marks and not found
    assert compared == len(expected.values) + len(expected.marks)


def test_every_kind_of_difference_is_listed() -> None:
    expected = whole(FUNCTIONS, KEY, BARS)
    values = {(k, p, b): v for k, p, b, v in expected.values}
    sma3 = SMA(period=3).stored()
    values[(*sma3, 5)] += 1e-9  # wrong
    del values[(*sma3, 6)]  # missing
    values[(*sma3, 1)] = 4.5  # extra: SMA(3) has no value at the second bar
    marks = [dataclasses.replace(expected.marks[0], kind="death_cross"), *expected.marks[2:]]
    _, found = compare_series(KEY, expected, values, marks, FUNCTIONS, lambda _: True)
    kinds = {(d[2], d[3]) for d in found}
    assert {(5, "value wrong"), (6, "value missing"), (1, "value extra")} <= kinds
    assert (expected.marks[0].bucket, "mark wrong") in kinds
    assert (expected.marks[1].bucket, "mark missing") in kinds
    _, outside = compare_series(KEY, expected, values, marks, FUNCTIONS, lambda bucket: bucket >= 7)
    assert all(d[2] >= 7 for d in outside)
