"""The harness's one way to wait: on a condition, bounded, saying what it waited for."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.harness.waiting import eventually, eventually_sync


async def test_the_first_truthy_answer_is_returned() -> None:
    answers: Iterator[object] = iter([0, None, [], 7, 8])
    assert await eventually(lambda: next(answers), 5, interval=0) == 7

    async def later() -> str | None:
        return next(texts)

    texts = iter([None, "", "ready"])
    assert await eventually(later, 5, interval=0) == "ready"


async def test_ignored_errors_are_retried_and_others_raise() -> None:
    calls = itertools.count()

    def flaky() -> int:
        if next(calls) < 3:
            raise ConnectionError("not yet")
        return 1

    assert await eventually(flaky, 5, interval=0, ignoring=(ConnectionError,)) == 1
    empty: dict[str, int] = {}
    with pytest.raises(KeyError):
        await eventually(lambda: empty["x"], 5, interval=0, ignoring=(ConnectionError,))


async def test_a_condition_that_never_holds_fails_with_what_and_the_last_answer() -> None:
    with pytest.raises(AssertionError, match=r"not within 0.05 s: the count reached 3 \(last: 0\)"):
        await eventually(lambda: 0, 0.05, interval=0.01, what="the count reached 3")
    with pytest.raises(AssertionError, match=r"last: ConnectionError\('down'\)"):
        eventually_sync(lambda: (_ for _ in ()).throw(ConnectionError("down")), 0.05, ignoring=(ConnectionError,))
