import pytest
from hypothesis import given
from hypothesis import strategies as st

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import (
    MAX_PRICE,
    MAX_QTY,
    MIN_PRICE,
    SHOWN,
    Tick,
    parse_tick,
    price_decimals,
    validate_tick,
)

NOW = 1_732_406_400_000
GOOD = {"symbol": "Coinbase:BTC/USD", "ts": NOW - 1000, "price": 97000.5, "qty": 0.0123, "side": "buy", "id": "81234"}


def test_a_good_tick_round_trips() -> None:
    tick = validate_tick(GOOD, now_ms=NOW)
    assert tick == Tick("Coinbase:BTC/USD", NOW - 1000, 97000.5, 0.0123, "buy", "81234")
    assert parse_tick(tick.to_json(), now_ms=NOW) == tick


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"price": None}, "missing price"),
        ({"price": "abc"}, "price is not a number"),
        ({"price": 0}, "price must be > 0"),
        ({"price": -1.5}, "price must be > 0"),
        ({"qty": -0.1}, "qty must be >= 0"),
        ({"qty": True}, "qty is not a number"),
        ({"symbol": "BTCUSD"}, "not written Exchange:BASE/QUOTE"),
        ({"symbol": None}, "missing symbol"),
        ({"ts": 1_000}, "before 2009"),
        ({"ts": NOW + 3_600_000}, "in the future"),
        ({"ts": "yesterday"}, "not integer milliseconds"),
        ({"side": "long"}, "side must be"),
        ({"price": float("nan")}, "not finite"),
        ({"symbol": ["Coinbase:BTC/USD"]}, "not written Exchange:BASE/QUOTE"),
        ({"side": ["buy"]}, "side must be"),
        ({"id": {"n": 1}}, "id must be a string"),
    ],
)
def test_what_cannot_be_a_trade_is_rejected_with_a_reason(change: dict[str, object], reason: str) -> None:
    record = {**GOOD, **change}
    if change.get("price", 1) is None or change.get("symbol", 1) is None:
        record = {k: v for k, v in record.items() if v is not None}
    with pytest.raises(InvalidTick, match=reason):
        validate_tick(record, now_ms=NOW)


def test_malformed_json_is_an_invalid_tick() -> None:
    with pytest.raises(InvalidTick, match="not JSON"):
        parse_tick(b"{nope", now_ms=NOW)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"qty": 1e308}, "is above 1e\\+24"),
        ({"qty": "1e308"}, "is above 1e\\+24"),
        ({"qty": MAX_QTY * 1.0000001}, "no trade moves that much"),
        ({"price": 1e-16}, "outside"),
        ({"price": 1e308}, "outside"),
        ({"price": "1e-400"}, "must be > 0"),
        ({"price": "1" + "0" * 5000}, "not finite"),
        ({"price": "-0"}, "must be > 0"),
        ({"price": "nan"}, "not finite"),
        ({"price": "-Infinity"}, "not finite"),
        ({"tick_size": "0"}, "tick_size must be > 0"),
        ({"tick_size": "abc"}, "tick_size is not a decimal"),
        ({"tick_size": "1e-16"}, "more than 15 decimal places"),
        ({"tick_size": [0.01]}, "tick_size must be a decimal string"),
    ],
)
def test_values_the_store_cannot_hold_are_rejected(change: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidTick, match=reason):
        validate_tick({**GOOD, **change}, now_ms=NOW)


def test_the_bounds_themselves_are_accepted() -> None:
    for change in ({"price": MIN_PRICE}, {"price": MAX_PRICE}, {"qty": MAX_QTY}, {"qty": 0.0}, {"qty": -0.0}):
        tick = validate_tick({**GOOD, **change}, now_ms=NOW)
        assert (tick.price, tick.qty) == (change.get("price", GOOD["price"]), change.get("qty", GOOD["qty"]))


def test_a_tick_size_is_kept_in_canonical_form_and_round_trips() -> None:
    tick = validate_tick({**GOOD, "tick_size": "0.0100"}, now_ms=NOW)
    assert tick.tick_size == "0.01"
    assert parse_tick(tick.to_json(), now_ms=NOW) == tick
    assert validate_tick({**GOOD, "tick_size": 0.5}, now_ms=NOW).tick_size == "0.5"


@given(st.text(min_size=1, max_size=300_000).filter(lambda t: len(t) > 200))
def test_a_reason_quotes_a_long_value_only_in_part(symbol: str) -> None:
    with pytest.raises(InvalidTick) as refused:
        validate_tick({**GOOD, "symbol": symbol}, now_ms=NOW)
    assert len(str(refused.value)) < SHOWN + 60


@pytest.mark.parametrize(("price", "decimals"), [(97000.5, 1), (97000.0, 0), (0.00012, 5), (1e-8, 8), (12.34, 2)])
def test_price_decimals(price: float, decimals: int) -> None:
    assert price_decimals(price) == decimals


@given(st.decimals(min_value="0.00000001", max_value="1000000", places=8, allow_nan=False))
def test_price_decimals_matches_the_written_decimals(value: object) -> None:
    text = format(value, "f").rstrip("0").rstrip(".")
    expected = len(text.partition(".")[2])
    assert price_decimals(float(text)) == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)


@given(st.dictionaries(st.sampled_from(["symbol", "ts", "price", "qty", "side", "id", "x"]), json_values))
def test_any_json_object_is_a_tick_or_an_invalid_tick(record: dict[str, object]) -> None:
    """Whatever a producer writes, validation answers with a Tick or a reason, never a crash."""
    try:
        tick = validate_tick(record, now_ms=NOW)
    except InvalidTick as exc:
        assert str(exc)
    else:
        assert tick.price > 0 and tick.qty >= 0
