"""The engine's CPU half (`candleflow.engine.prepare`): the batch's deltas, symbols and
dead letters are what the plain rules give (`parse_tick` on each record, `aggregate` over
the kept ticks), a floor drops what the ledger holds, and a batch that holds a run of
offsets twice (the reader re-seeked a partition in the middle of gathering) counts each
record once."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from candleflow.domain.bars import BAR_FIELDS, BarKey, aggregate
from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import parse_tick, price_decimals
from candleflow.engine.prepare import Prepared, prepare
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


def prepared(records: list[Record], floor: dict[int, int] | None = None) -> Prepared:
    return prepare(records, topic="ticks.raw", future_tolerance_s=300.0, floor=floor)


@given(
    st.lists(st.floats(1, 1000, allow_nan=False), min_size=1, max_size=60),
    st.integers(0, 10**6),
    st.data(),
)
@settings(max_examples=100)
def test_a_re_delivered_run_inside_one_batch_counts_once(prices: list[float], first: int, data: st.DataObject) -> None:
    once = records_of(0, first, prices)
    again_from = data.draw(st.integers(0, len(once) - 1))
    stop_at = data.draw(st.integers(again_from + 1, len(once)))
    twice = once[:stop_at] + once[again_from:]
    expected = prepared(once)
    got = prepared(twice)
    assert got.deltas == expected.deltas
    assert got.absorbed == len(once)
    assert got.skipped == len(twice) - len(once)
    assert got.next_offsets == {0: first + len(once)}


def test_other_partitions_are_not_held_back_by_a_re_delivery() -> None:
    a, b = records_of(0, 100, [1.0, 2.0, 3.0]), records_of(1, 5, [4.0, 5.0])
    got = prepared([*a, *b, *a[1:], b[1]])
    assert got.absorbed == 5
    assert got.skipped == 3
    assert got.next_offsets == {0: 103, 1: 7}


def by_the_rules(
    records: list[Record], floor: dict[int, int]
) -> tuple[dict[BarKey, tuple[object, ...]], list[bytes], dict[str, int]]:
    """Deltas, dead-lettered values, and the most price decimals of each symbol, of the
    records a plain loop keeps."""
    rows, refused, highest = [], [], dict[int, int]()
    for r in records:
        if r.offset < floor.get(r.partition, 0) or r.offset <= highest.get(r.partition, -1):
            continue
        highest[r.partition] = r.offset
        try:
            tick = parse_tick(r.value, future_tolerance_s=300.0)
        except InvalidTick:
            refused.append(r.value)
            continue
        rows.append((tick.symbol, tick.ts, tick.price, tick.qty, r.offset))
    deltas = {k: tuple(getattr(b, n) for n in BAR_FIELDS) for k, b in aggregate(rows).items()}
    decimals: dict[str, int] = {}
    for symbol, _, price, _, _ in rows:
        decimals[symbol] = max(decimals.get(symbol, 0), price_decimals(price))
    return deltas, refused, decimals


values = st.one_of(
    st.builds(
        lambda s, dt, p, q: orjson.dumps({"symbol": s, "ts": T0_MS + dt, "price": p, "qty": q}),
        st.sampled_from(["Test:A/USD", "Test:B/USD", "BAD"]),
        st.integers(0, 120_000),
        st.integers(1, 10**6).map(lambda c: c / 100),
        st.integers(0, 10**6).map(lambda c: c / 1000),
    ),
    st.sampled_from([b"{nope", b'{"symbol": "Test:A/USD", "ts": 1, "price": 1, "qty": 1}']),
)


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 30), values), max_size=60), st.data())
@settings(max_examples=150)
def test_a_batch_is_what_the_plain_rules_make_of_it(rows: list[tuple[int, int, bytes]], data: st.DataObject) -> None:
    records = [Record(p, o, b"k", v, T0_MS) for p, o, v in rows]
    floor = {p: data.draw(st.integers(0, 10)) for p in {r.partition for r in records}}
    got = prepared(records, floor)
    deltas, refused, decimals = by_the_rules(records, floor)
    assert {k: tuple(getattr(b, n) for n in BAR_FIELDS) for k, b in got.deltas.items()} == deltas
    assert [orjson.loads(reject.value)["raw"].encode() for reject in got.rejects] == refused
    assert {symbol: seen.decimals for symbol, seen in got.seen.items()} == decimals
    assert set(got.partition_of) == set(decimals)
