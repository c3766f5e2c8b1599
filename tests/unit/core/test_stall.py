"""`assess`: stalled means ticks waiting and the ledger standing still for the whole window;
a moving ledger is never a stall, however far behind."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from candleflow.core.stall import Assessment, Sample, assess

AFTER = 15.0


def samples(rows: list[tuple[float, int, int]], partition: int = 0) -> list[Sample]:
    """(at, log end, ledger next) of one partition."""
    return [Sample(at, {partition: end}, {partition: nxt}) for at, end, nxt in rows]


def test_no_samples_is_no_stall() -> None:
    assert assess([], AFTER) == Assessment()


def test_work_waiting_and_a_still_ledger_for_the_window_is_a_stall() -> None:
    got = assess(samples([(0, 100, 50), (5, 120, 50), (10, 140, 50), (15, 160, 50)]), AFTER)
    assert got.stalled == {0: 15.0} and got.lag == {0: 110} and got.is_stalled and got.total == 110


def test_a_still_ledger_for_less_than_the_window_is_not_yet_a_stall() -> None:
    assert not assess(samples([(0, 100, 50), (5, 120, 50), (14.9, 140, 50)]), AFTER).is_stalled


def test_the_stall_counts_from_when_work_was_first_seen_waiting() -> None:
    # caught up (lag 0) at 0 and 5; ticks arrive, nothing commits them from 10 on
    got = assess(samples([(0, 50, 50), (5, 50, 50), (10, 60, 50), (20, 70, 50), (24, 80, 50)]), AFTER)
    assert not got.is_stalled
    got = assess(samples([(0, 50, 50), (5, 50, 50), (10, 60, 50), (20, 70, 50), (25, 80, 50)]), AFTER)
    assert got.stalled == {0: 15.0}


def test_a_caught_up_partition_is_never_stalled() -> None:
    assert not assess(samples([(t, 50, 50) for t in range(0, 100, 5)]), AFTER).is_stalled


def test_a_moving_ledger_falling_behind_is_busy_not_stalled() -> None:
    got = assess(samples([(t, 1000 + 100 * t, 500 + 10 * t) for t in range(0, 60, 2)]), AFTER)
    assert not got.is_stalled and got.lag[0] > 0


def test_only_the_still_partition_is_stalled() -> None:
    rows = [Sample(t, {0: 100 + t, 1: 100 + t}, {0: 50, 1: 50 + t}) for t in range(0, 21, 2)]
    assert set(assess(rows, AFTER).stalled) == {0}


def test_a_partition_just_taken_over_is_not_stalled_before_a_window_of_samples() -> None:
    rows = [Sample(t, {0: 10}, {0: 10}) for t in range(0, 30, 2)]
    rows += [Sample(30 + t, {0: 10, 1: 500}, {0: 10, 1: 0}) for t in range(0, 14, 2)]
    assert not assess(rows, AFTER).is_stalled
    rows.append(Sample(45, {0: 10, 1: 500}, {0: 10, 1: 0}))
    assert assess(rows, AFTER).stalled == {1: 15.0}


@st.composite
def histories(draw: st.DrawFn) -> list[Sample]:
    """Samples of one partition: the ledger never passes the log end, neither goes back."""
    count = draw(st.integers(1, 30))
    at, end, nxt = 0.0, draw(st.integers(0, 1000)), 0
    rows = []
    for _ in range(count):
        at += draw(st.floats(0.5, 5.0))
        end += draw(st.integers(0, 200))
        nxt = draw(st.integers(nxt, end))
        rows.append(Sample(at, {0: end}, {0: nxt}))
    return rows


@given(histories())
def test_stalled_exactly_when_the_ledger_stood_still_with_work_waiting_for_the_window(rows: list[Sample]) -> None:
    latest = rows[-1]
    got = assess(rows, AFTER)
    assert got.lag == {0: latest.ends[0] - latest.next[0]}
    run = [r for r in rows if r.at >= latest.at - AFTER]
    still = all(r.next[0] == latest.next[0] and r.ends[0] > r.next[0] for r in run)
    covered = (
        any(r.at <= latest.at - AFTER and r.next[0] == latest.next[0] and r.ends[0] > r.next[0] for r in rows) and still
    )
    assert got.is_stalled == covered


@given(histories())
def test_a_ledger_that_moved_at_every_sample_is_never_stalled(rows: list[Sample]) -> None:
    moving = [Sample(r.at, {0: r.ends[0] + i + 1}, {0: r.next[0] + i + 1}) for i, r in enumerate(rows)]
    assert not assess(moving, AFTER).is_stalled
