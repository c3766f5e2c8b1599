"""The engine's CPU half: a batch that holds a run of offsets twice (the reader re-seeked
a partition to the ledger in the middle of gathering) counts each record once."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from candleflow.core.settings import Settings
from candleflow.engine.bar_engine import BarEngine
from candleflow.kafka.log_reader import Record

T0_MS = 1_704_067_200_000


def records_of(partition: int, first: int, prices: list[float]) -> list[Record]:
    return [
        Record(
            partition,
            first + n,
            b"Test:A/USD",
            orjson.dumps({"symbol": "Test:A/USD", "ts": T0_MS + n * 7_000, "price": price, "qty": 0.5, "id": str(n)}),
            T0_MS,
        )
        for n, price in enumerate(prices)
    ]


def engine() -> BarEngine:
    return BarEngine(Settings(), pool=None, sink=None)  # type: ignore[arg-type]


@given(
    st.lists(st.floats(1, 1000, allow_nan=False), min_size=1, max_size=60),
    st.integers(0, 10**6),
    st.data(),
)
@settings(max_examples=100, deadline=None)
def test_a_re_delivered_run_inside_one_batch_counts_once(prices: list[float], first: int, data: st.DataObject) -> None:
    once = records_of(0, first, prices)
    again_from = data.draw(st.integers(0, len(once) - 1))
    stop_at = data.draw(st.integers(again_from + 1, len(once)))
    twice = once[:stop_at] + once[again_from:]
    expected = engine().prepare(once)
    got = engine().prepare(twice)
    assert got.deltas == expected.deltas
    assert got.absorbed == len(once)
    assert got.skipped == len(twice) - len(once)
    assert got.next_offsets == {0: first + len(once)}


def test_other_partitions_are_not_held_back_by_a_re_delivery() -> None:
    a, b = records_of(0, 100, [1.0, 2.0, 3.0]), records_of(1, 5, [4.0, 5.0])
    got = engine().prepare([*a, *b, *a[1:], b[1]])
    assert got.absorbed == 5
    assert got.skipped == 3
    assert got.next_offsets == {0: 103, 1: 7}
