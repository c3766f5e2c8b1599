"""`TickFolder`, the fast fold of raw records into bars, against the plain fold: the
engine's `parse_tick` + `candleflow.domain.bars.aggregate`, whatever the batches and order."""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st

from candleflow.domain.bars import BAR_FIELDS, aggregate, second_bars
from candleflow.domain.fold import TickFolder, fold_seconds
from candleflow.domain.tick_decode import TickColumns
from candleflow.domain.ticks import parse_tick, price_decimals
from tests.harness.tickgen import generate

NOW = 1_735_000_000_000


def encoded(count: int, seed: int) -> list[tuple[int, bytes]]:
    return [(offset, orjson.dumps(tick)) for offset, tick in enumerate(generate(count, days=1.0, seed=seed))]


def reference(records: list[tuple[int, bytes]]) -> dict[tuple[str, str, int], tuple[object, ...]]:
    rows = []
    for offset, value in records:
        try:
            tick = parse_tick(value, now_ms=NOW, future_tolerance_s=300)
        except (ValueError, TypeError):  # TypeError: an unhashable symbol or side
            continue
        rows.append((tick.symbol, tick.ts, tick.price, tick.qty, offset))
    return {key: _exact(bar) for key, bar in aggregate(rows).items()}


def _fields(bar: object) -> tuple[object, ...]:
    return tuple(getattr(bar, n) for n in BAR_FIELDS)


ODD = [
    b"{not json",
    b"[1, 2]",
    b"null",
    orjson.dumps({"symbol": "Coinbase:BTC/USD", "ts": NOW - 5000, "price": "12.5", "qty": 1}),  # valid, slow path
    orjson.dumps({"symbol": "Coinbase:BTC/USD", "ts": NOW - 4000, "price": 12, "qty": 2, "id": 7}),  # valid
    orjson.dumps({"symbol": "Coinbase:BTC/USD", "ts": NOW - 3000, "price": 12.5, "qty": 1.0, "side": None}),
    orjson.dumps({"symbol": "Coinbase:BTC/USD", "ts": NOW - 3000, "price": 0.0, "qty": 1.0}),
    orjson.dumps({"symbol": "Coinbase:BTC/USD", "ts": NOW - 3000, "price": 1.0, "qty": -1.0}),
    orjson.dumps({"symbol": "Coinbase:BTC/USD", "ts": NOW + 10**9, "price": 1.0, "qty": 1.0}),
    orjson.dumps({"symbol": "Coinbase:BTC/USD", "ts": 5, "price": 1.0, "qty": 1.0}),
    orjson.dumps({"symbol": "BTCUSD", "ts": NOW - 3000, "price": 1.0, "qty": 1.0}),
    orjson.dumps({"symbol": ["x"], "ts": NOW - 3000, "price": 1.0, "qty": 1.0}),
    orjson.dumps({"symbol": "Coinbase:BTC/USD", "ts": NOW - 3000, "price": 1.0, "qty": 1.0, "side": "hold"}),
    orjson.dumps({"symbol": "Coinbase:BTC/USD", "ts": NOW - 3000, "price": 1.0, "qty": 1.0, "side": ["buy"]}),
    orjson.dumps({"symbol": "Coinbase:BTC/USD", "ts": NOW - 3000, "price": 1.0, "qty": 1.0, "id": True}),
    orjson.dumps({"symbol": "Coinbase:BTC/USD", "ts": float(NOW - 2000), "price": 1.5, "qty": 0.25}),  # valid
]


def test_folding_in_any_batches_equals_aggregating_the_whole_log() -> None:
    records = [(o, v) for o, v in encoded(6_000, seed=1) if orjson.loads(v)["ts"] < NOW]
    records += [(len(records) + i, value) for i, value in enumerate(ODD)]
    expected = reference(records)
    shuffled = records[:]
    random.Random(2).shuffle(shuffled)
    for size in (1, 7, 1000, len(records)):
        folder = TickFolder(now_ms=NOW)
        for start in range(0, len(shuffled), size):
            folder.add(shuffled[start : start + size])
        assert {key: _exact(bar) for key, bar in folder.finish().items()} == expected
        assert folder.records == len(records)
        assert folder.invalid == sum(1 for v in ODD if not _valid(v))


def _valid(value: bytes) -> bool:
    try:
        parse_tick(value, now_ms=NOW, future_tolerance_s=300)
    except (ValueError, TypeError):
        return False
    return True


def test_symbols_and_since_filter_the_ticks() -> None:
    records = encoded(3_000, seed=4)
    ticks = [orjson.loads(v) for _, v in records]
    since = sorted(t["ts"] for t in ticks)[1500]
    folder = TickFolder(symbols=frozenset({"Kraken:SOL/USD"}), since=since, future_tolerance_s=1e9)
    folder.add(records)
    kept = [t for t in ticks if t["symbol"] == "Kraken:SOL/USD" and t["ts"] >= since]
    assert folder.kept == len(kept)
    assert {key[0] for key in folder.finish()} == {"Kraken:SOL/USD"}
    seen = folder.seen()["Kraken:SOL/USD"]
    assert (seen.first, seen.last) == (min(t["ts"] for t in kept), max(t["ts"] for t in kept))
    assert seen.decimals == 3


def _record(symbol: object, ts: object, price: object, qty: object, side: object) -> bytes:
    tick = {"symbol": symbol, "ts": ts, "price": price, "qty": qty}
    if side is not None:
        tick["side"] = side
    return orjson.dumps(tick)


#: Mostly well-formed ticks a few seconds apart (the fast path, ties in time included),
#: with odd values mixed in (the slow path, or invalid).
good = st.builds(
    _record,
    st.sampled_from(["Coinbase:BTC/USD", "Kraken:SOL/USD"]),
    st.integers(NOW - 4000, NOW),
    st.integers(1000, 1030).map(lambda cents: cents / 100),
    st.floats(0, 10).map(lambda q: round(q, 4)),
    st.sampled_from([None, "buy", "sell"]),
)
odd = st.builds(
    _record,
    st.sampled_from(["Coinbase:BTC/USD", "BTCUSD", 7]),
    st.one_of(st.integers(NOW - 90_000_000, NOW + 400_000), st.floats(NOW - 4000, NOW), st.just("now")),
    st.one_of(st.integers(-5, 100), st.sampled_from([0.0, -1.5, "12.5", "x", None, float("inf")])),
    st.one_of(st.integers(-1, 5), st.sampled_from([-1.0, "2", None])),
    st.sampled_from([None, "unknown", "hold", 3]),
)
records = st.lists(
    st.one_of(good, good, good, odd, st.sampled_from([b"{not json", b"[]", b"null", b'{"ts": 1}'])),
    max_size=80,
)


@settings(max_examples=150)
@given(records, st.integers(1, 9), st.randoms(use_true_random=False))
def test_the_fast_fold_equals_the_plain_fold(values: list[bytes], batch: int, rnd: random.Random) -> None:
    log = list(enumerate(values))
    expected = reference(log)
    rnd.shuffle(log)
    folder = TickFolder(now_ms=NOW)
    for start in range(0, len(log), batch):
        folder.add(log[start : start + batch])
    assert {key: _exact(bar) for key, bar in folder.finish().items()} == expected
    assert folder.valid == sum(1 for v in values if _valid(v))


def test_seen_widens_over_every_tick_of_a_symbol() -> None:
    folder = TickFolder(now_ms=NOW)
    folder.add([(0, _record("Coinbase:BTC/USD", NOW - 5000, 1.5, 1.0, None))])
    folder.add([(1, _record("Coinbase:BTC/USD", NOW - 9000, 2.125, 1.0, None))])
    seen = folder.seen()["Coinbase:BTC/USD"]
    assert (seen.decimals, seen.first, seen.last) == (3, NOW - 9000, NOW - 5000)


def _exact(bar: object) -> tuple[object, ...]:
    """A bar's fields with its volume's digits and exponent, not only its value."""
    return tuple(v.as_tuple() if isinstance(v, Decimal) else v for v in _fields(bar))


ticks = st.tuples(
    st.sampled_from(["Coinbase:BTC/USD", "Kraken:SOL/USD", "Binance:DOGE/USDT"]),
    st.integers(NOW - 5_000, NOW),
    st.one_of(st.integers(1, 10**9).map(lambda p: p / 10 ** (p % 9)), st.floats(1e-9, 1e9)),
    st.one_of(
        st.integers(0, 10**10).map(lambda q: q / 10 ** (q % 11)),
        st.sampled_from([0.0, -0.0, 5e-324, 2.0, 1e-5, 1e9]),
        st.floats(0, 1e12),
    ),
    st.integers(0, 40),
)


@settings(max_examples=300)
@given(st.lists(ticks, min_size=1, max_size=60))
@example([("Binance:DOGE/USDT", NOW, 0.1, q, 0) for q in (1.0, 2.0302745856611645e-45, 2.0302745856611645e-45)])
def test_fold_seconds_equals_absorbing_each_tick(rows: list[tuple[str, int, float, float, int]]) -> None:
    """Ties in time and in offset included: the fold's order is `Bar.absorb`'s."""
    columns = TickColumns(
        np.arange(len(rows), dtype=np.int64),
        [r[0] for r in rows],
        np.array([r[1] for r in rows], dtype=np.int64),
        np.array([r[2] for r in rows], dtype=np.float64),
        np.array([r[3] for r in rows], dtype=np.float64),
    )
    folded = fold_seconds(columns, np.array([r[4] for r in rows], dtype=np.int64))
    expected = second_bars(rows)
    assert {k: _exact(b) for k, b in folded.bars.items()} == {k: _exact(b) for k, b in expected.items()}
    for symbol in {r[0] for r in rows}:
        mine = [r for r in rows if r[0] == symbol]
        seen = folded.seen[symbol]
        assert seen.decimals == max(price_decimals(r[2]) for r in mine)
        assert (seen.first, seen.last) == (min(r[1] for r in mine), max(r[1] for r in mine))
        assert rows[folded.sample[symbol]][0] == symbol
