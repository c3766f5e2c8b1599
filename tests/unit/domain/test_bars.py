"""`candleflow.domain.bars` against a plain sort-and-group written from the invariant's words."""

import random
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from candleflow.domain.bars import Bar, aggregate
from candleflow.domain.resolution import SUPPORTED

BASE = 1_732_406_400_000  # 2024-11-24T00:00Z

tick_lists = st.lists(
    st.tuples(
        st.sampled_from(["X:AAA/USD", "Y:BBB/EUR"]),
        st.integers(min_value=BASE - 40 * 86_400_000, max_value=BASE + 40 * 86_400_000),
        st.sampled_from([1.5, 2.25, 97000.5, 0.00012, 3.0, 10.1]),
        st.sampled_from([0.0, 0.1, 0.0123, 2.5, 1e-8, 1234.5678]),
    ),
    min_size=1,
    max_size=60,
)


Summary = tuple[float, float, float, float, Decimal, int]


def reference(ticks: list[tuple[str, int, float, float, int]]) -> dict[tuple[str, str, int], Summary]:
    groups: dict[tuple[str, str, int], list[tuple[str, int, float, float, int]]] = {}
    for tick in ticks:
        for resolution in SUPPORTED:
            groups.setdefault((tick[0], resolution.code, resolution.floor(tick[1])), []).append(tick)
    result: dict[tuple[str, str, int], Summary] = {}
    for key, members in groups.items():
        ordered = sorted(members, key=lambda t: (t[1], t[4]))
        prices = [t[2] for t in members]
        result[key] = (
            ordered[0][2],
            max(prices),
            min(prices),
            ordered[-1][2],
            sum((Decimal(repr(t[3])) for t in members), Decimal(0)),
            len(members),
        )
    return result


def summary(bar: Bar) -> Summary:
    return (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.trades)


@given(tick_lists)
@settings(max_examples=200)
def test_aggregate_equals_reference(raw: list[tuple[str, int, float, float]]) -> None:
    ticks = [(s, ts, p, q, seq) for seq, (s, ts, p, q) in enumerate(raw)]
    assert {k: summary(b) for k, b in aggregate(ticks).items()} == reference(ticks)


@given(tick_lists, st.integers(min_value=1, max_value=5), st.randoms(use_true_random=False))
@settings(max_examples=200)
def test_batches_merged_equal_one_aggregate(
    raw: list[tuple[str, int, float, float]], parts: int, rnd: random.Random
) -> None:
    """Splitting the log into batches and merging their deltas changes nothing (the
    engine's upsert merges exactly like `Bar.merge`), whatever order deltas arrive in."""
    ticks = [(s, ts, p, q, seq) for seq, (s, ts, p, q) in enumerate(raw)]
    cuts = sorted(rnd.sample(range(len(ticks) + 1), min(parts, len(ticks) + 1)))
    batches = [ticks[a:b] for a, b in zip([0, *cuts], [*cuts, len(ticks)], strict=True)]
    rnd.shuffle(batches)
    merged: dict[tuple[str, str, int], Bar] = {}
    for batch in batches:
        for key, delta in aggregate(batch).items():
            if key in merged:
                merged[key].merge(delta)
            else:
                merged[key] = delta
    assert {k: summary(b) for k, b in merged.items()} == reference(ticks)


def test_ties_in_time_are_broken_by_log_order() -> None:
    ticks = [("X:AAA/USD", BASE, 1.0, 1.0, 7), ("X:AAA/USD", BASE, 2.0, 1.0, 3), ("X:AAA/USD", BASE, 3.0, 1.0, 5)]
    bar = aggregate(ticks)[("X:AAA/USD", "1", BASE)]
    assert (bar.open, bar.close) == (2.0, 1.0)


def test_volume_is_exact() -> None:
    ticks = [("X:AAA/USD", BASE + i, 1.0, 0.1, i) for i in range(10)]
    assert aggregate(ticks)[("X:AAA/USD", "1D", BASE)].volume == Decimal("1.0")
