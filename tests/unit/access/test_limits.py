"""Per-client limits: the token bucket and the counts of concurrent things."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candleflow.access.limits import Counts, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_rate_holds_and_retry_after_says_when() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=10.0, burst=5, clock=clock)
    assert [limiter.take("a") for _ in range(5)] == [0.0] * 5
    wait = limiter.take("a")
    assert wait == pytest.approx(0.1)
    clock.now += wait
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0.0


def test_one_client_cannot_spend_another_ones_requests() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock)
    limiter.take("greedy")
    limiter.take("greedy")
    assert limiter.take("greedy") > 0
    assert limiter.take("polite") == 0.0


@given(st.lists(st.floats(min_value=0.0, max_value=2.0), min_size=1, max_size=200))
def test_no_more_pass_than_the_burst_plus_the_rate_times_the_time(gaps: list[float]) -> None:
    clock = Clock()
    limiter = RateLimiter(rate=3.0, burst=4, clock=clock)
    start = clock.now
    passed = 0
    for gap in gaps:
        clock.now += gap
        passed += limiter.take("k") == 0.0
    assert passed <= 4 + 3.0 * (clock.now - start) + 1e-9


def test_the_table_of_clients_is_bounded_and_forgets_the_oldest() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=1, max_keys=3, clock=clock)
    for key in "abcd":
        limiter.take(key)
    assert len(limiter) == 3
    assert limiter.take("a") == 0.0  # forgotten: a fresh bucket, never a lock-out
    assert limiter.take("d") > 0.0


def test_counts_cap_each_client_and_give_back() -> None:
    counts = Counts(cap=2, max_keys=10)
    assert counts.acquire("a")
    assert counts.acquire("a")
    assert not counts.acquire("a")
    assert counts.acquire("b")
    counts.release("a")
    assert counts.held("a") == 1
    assert counts.acquire("a")
    counts.release("a")
    counts.release("a")
    assert counts.held("a") == 0
    assert len(counts) == 1


def test_counts_table_is_bounded() -> None:
    counts = Counts(cap=5, max_keys=2)
    assert counts.acquire("a")
    assert counts.acquire("b")
    assert not counts.acquire("c")
    counts.release("a")
    assert counts.acquire("c")


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_a_limit_that_cannot_work_is_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=rate, burst=burst)
