"""`decode_batch`, the batch decoder of the engine and the bulk readers, against the rule:
`parse_tick` on each value alone keeps and refuses the same records, with the same values
and the same reasons, whatever the batch holds."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.tick_decode import decode_batch
from candleflow.domain.ticks import parse_tick

NOW = 1_735_000_000_000
TOLERANCE_S = 300.0
Kept = list[tuple[int, str, int, float, float, str | None]]
Refused = list[tuple[int, str]]


def by_the_rule(values: Sequence[bytes | None]) -> tuple[Kept, Refused]:
    kept: Kept = []
    refused: Refused = []
    for position, value in enumerate(values):
        try:
            if value is None:
                raise InvalidTick("no value (a tombstone)")
            tick = parse_tick(value, now_ms=NOW, future_tolerance_s=TOLERANCE_S)
        except InvalidTick as exc:
            refused.append((position, str(exc)))
        else:
            kept.append((position, tick.symbol, tick.ts, tick.price, tick.qty, tick.tick_size))
    return kept, refused


def decoded(values: Sequence[bytes | None]) -> tuple[Kept, Refused]:
    batch = decode_batch(values, now_ms=NOW, future_tolerance_s=TOLERANCE_S)
    t = batch.ticks
    sizes = t.tick_sizes if t.tick_sizes is not None else [None] * len(t)
    kept = list(
        zip(t.positions.tolist(), t.symbols, t.ts.tolist(), t.price.tolist(), t.qty.tolist(), sizes, strict=True)
    )
    return kept, batch.rejects


def record(**fields: object) -> bytes:
    return orjson.dumps(fields, option=orjson.OPT_SERIALIZE_NUMPY)


GOOD = {"symbol": "Coinbase:BTC/USD", "ts": NOW - 1000, "price": 97000.5, "qty": 0.0123, "side": "buy", "id": "8"}

ODD: list[bytes | None] = [
    None,
    b"",
    b" ",
    b"{not json",
    b"[1, 2]",
    b"null",
    b'{"symbol":"Coinbase:BTC/USD","ts":1734999999000,"price":NaN,"qty":1}',
    b'{"symbol":"Coinbase:BTC/USD","ts":1734999999000,"price":1e999,"qty":1}',
    b'{"symbol":"Coinbase:BTC/USD","ts":1734999999000,"price":1,"qty":1} {"x":1}',
    b'{"symbol":"Coinbase:BTC/USD","ts":1734999999000,"price":1,"qty":1,"symbol":"BTCUSD"}',
    b'{"symbol":"Coinbase:BTC/USD","ts":1734999999000,"price":1,"qty":1,"symbol":"Kraken:SOL/USD"}',
    b'{"symbol":"Coinbase:BTC/USD","ts":99999999999999999999999,"price":1,"qty":1}',
    b'{"symbol":"Coinbase:BTC/USD","ts":1734999999000,"price":1,"qty":1,"id":123456789012345678901234567890}',
    b"\xff\xfe",
    record(**{**GOOD, "price": "12.5"}),
    record(**{**GOOD, "price": 12, "id": 7}),
    record(**{**GOOD, "side": None}),
    record(**{**GOOD, "side": "hold"}),
    record(**{**GOOD, "side": ["buy"]}),
    record(**{**GOOD, "id": True}),
    record(**{**GOOD, "id": None}),
    record(**{**GOOD, "price": 0.0}),
    record(**{**GOOD, "price": -1.5}),
    record(**{**GOOD, "price": True}),
    record(**{**GOOD, "qty": -1.0}),
    record(**{**GOOD, "qty": -0.0}),
    record(**{**GOOD, "qty": "2"}),
    record(**{**GOOD, "ts": float(NOW - 2000)}),
    record(**{**GOOD, "ts": NOW - 2000.5}),
    record(**{**GOOD, "ts": NOW + 10**9}),
    record(**{**GOOD, "ts": NOW + 300_000}),
    record(**{**GOOD, "ts": NOW + 300_001}),
    record(**{**GOOD, "ts": 5}),
    record(**{**GOOD, "ts": True}),
    record(**{**GOOD, "symbol": "BTCUSD"}),
    record(**{**GOOD, "symbol": ["x"]}),
    record(**{**GOOD, "symbol": "Coinbase:BTC/USD\u0000"}),
    record(**{k: v for k, v in GOOD.items() if k != "qty"}),
    record(**{k: v for k, v in GOOD.items() if k != "symbol"}),
    record(**{**GOOD, "extra": {"nested": [1, 2]}}),
]


@pytest.mark.parametrize("value", ODD, ids=lambda v: repr(v)[:60])
def test_each_odd_record_is_kept_or_refused_as_parse_tick_says(value: bytes | None) -> None:
    values = [record(**GOOD), value, record(**{**GOOD, "ts": NOW - 500})]
    assert decoded(values) == by_the_rule(values)


def test_a_batch_of_odd_records_is_decoded_as_each_alone() -> None:
    values = [record(**GOOD), *ODD, record(**{**GOOD, "price": 2.5})]
    kept, refused = decoded(values)
    assert (kept, refused) == by_the_rule(values)
    assert kept and refused  # the batch holds both kinds


def test_a_well_formed_batch_takes_the_fast_path_whole() -> None:
    values = [record(**{**GOOD, "ts": NOW - 1000 - i, "price": 100.0 + i}) for i in range(500)]
    kept, refused = decoded(values)
    assert refused == []
    assert [k[0] for k in kept] == list(range(500))
    assert [k[3] for k in kept] == [100.0 + i for i in range(500)]


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
symbols = st.sampled_from(["Coinbase:BTC/USD", "Kraken:SOL/USD", "BTCUSD", "a:b/c", ""]) | st.text(max_size=12)
tick_like = st.fixed_dictionaries(
    {},
    optional={
        "symbol": symbols | json_scalars,
        "ts": st.integers(NOW - 10**12, NOW + 10**6) | st.floats(NOW - 10**6, NOW + 10**6) | json_scalars,
        "price": st.floats(-1, 1e9, allow_nan=False) | st.integers(-5, 10**6) | json_scalars,
        "qty": st.floats(-1, 1e9, allow_nan=False) | st.integers(-5, 10**6) | json_scalars,
        "side": st.sampled_from(["buy", "sell", "unknown", "long"]) | json_scalars,
        "id": st.text(max_size=5) | st.integers() | json_scalars,
        "extra": json_scalars | st.lists(json_scalars, max_size=3),
    },
).map(lambda fields: json.dumps(fields).encode())
#: numbers as producers may write them: long mantissas, exponents, out of range
number_texts = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(
        ["1e400", "-1e400", "1e-400", "1" + "0" * 25, "0.1000000000000000055511151231257827", "-0", "-0.0"]
    ),
    # the bounds and beyond (candleflow.domain.ticks)
    st.sampled_from(["1e308", "-1e308", "4.9e-324", "1e-15", "9.99e-16", "1e15", "1.0000000001e15", "1e24", "1.1e24"]),
    # NaN and infinity as strings (bare NaN is not JSON)
    st.sampled_from(['"NaN"', '"nan"', '"-inf"', '"Infinity"', '"1e308"', '"1e-400"', '" 12 "', '"1_000"']),
)
texts = st.builds(
    lambda price, qty, extra: (
        f'{{"symbol":"Coinbase:BTC/USD","ts":1734999999000,"price":{price},"qty":{qty}{extra}}}'.encode()
    ),
    number_texts,
    number_texts,
    st.sampled_from(
        [
            "",
            ',"side":"sell"',
            ',"x":1e400',
            ',"x":"\\ud800"',
            ',"id":18446744073709551615',
            ',"tick_size":"0.01"',
            ',"tick_size":"0.0100"',
            ',"tick_size":0.5',
            ',"tick_size":"0"',
            ',"tick_size":"1e-20"',
            ',"tick_size":"x"',
            ',"tick_size":null',
        ]
    ),
)
raw = st.one_of(
    tick_like,
    tick_like,
    texts,
    st.binary(max_size=20),
    st.sampled_from([b"{", b"[]", b"null", b"1", b'"x"', b"{}"]),
    st.none(),
)


@settings(max_examples=300)
@given(st.lists(raw, max_size=40))
def test_any_batch_is_decoded_as_parse_tick_decodes_each_record(values: list[bytes | None]) -> None:
    kept, refused = decoded(values)
    expected_kept, expected_refused = by_the_rule(values)
    assert refused == expected_refused
    assert len(kept) == len(expected_kept)
    for got, want in zip(kept, expected_kept, strict=True):
        assert got[:3] == want[:3] and got[5] == want[5]
        # the same float, bit for bit (and -0.0 stays -0.0)
        assert math.copysign(1, got[3]) == math.copysign(1, want[3]) and got[3] == want[3]
        assert math.copysign(1, got[4]) == math.copysign(1, want[4]) and got[4] == want[4]
