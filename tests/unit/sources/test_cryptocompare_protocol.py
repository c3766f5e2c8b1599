"""The legacy streamer dialect: frames in, typed events out, exactly."""

from __future__ import annotations

import time

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from candleflow.domain.exceptions import InvalidSymbol, InvalidTick
from candleflow.domain.ticks import Tick
from candleflow.sources import cryptocompare_events as events
from candleflow.sources import cryptocompare_protocol as cc
from candleflow.sources.exceptions import ProtocolError

NOW_MS = 1_732_406_500_000
ETH = "0~Kraken~ETH~EUR"


def frame(**fields: object) -> bytes:
    return orjson.dumps(fields)


def trade(**overrides: object) -> bytes:
    fields: dict[str, object] = {
        "TYPE": "0",
        "M": "Coinbase",
        "FSYM": "BTC",
        "TSYM": "USD",
        "F": 2,
        "ID": "81234",
        "TS": 1732406400,
        "TSNS": 123456789,
        "Q": 0.0123,
        "P": 97000.5,
        "TOTAL": 1193.10615,
        "RTS": 1732406400,
        "CCSEQ": 5550001,
    }
    fields.update(overrides)
    return orjson.dumps({k: v for k, v in fields.items() if v is not None})


def test_trade_is_parsed_exactly() -> None:
    event = cc.parse_frame(trade(), now_ms=NOW_MS)
    assert event == events.Trade(
        channel="0~Coinbase~BTC~USD",
        tick=Tick("Coinbase:BTC/USD", 1732406400123, 97000.5, 0.0123, "buy", "81234"),
        flags=2,
        ccseq=5550001,
    )


@pytest.mark.parametrize(
    ("flags", "side"),
    [(1, "sell"), (2, "buy"), (4, "unknown"), (3, "unknown"), (0, "unknown"), (9, "sell"), (10, "buy"), ("1", "sell")],
)
def test_flags_give_the_side(flags: object, side: str) -> None:
    event = cc.parse_frame(trade(F=flags), now_ms=NOW_MS)
    assert isinstance(event, events.Trade)
    assert event.tick.side == side


def test_time_without_tsns_is_whole_seconds() -> None:
    event = cc.parse_frame(trade(TSNS=None), now_ms=NOW_MS)
    assert isinstance(event, events.Trade)
    assert event.tick.ts == 1732406400000


@given(st.integers(1_300_000_000, 2_000_000_000), st.integers(0, 999_999_999))
def test_trade_time_is_seconds_plus_nanoseconds_floored_to_ms(ts: int, tsns: int) -> None:
    assert cc.trade_time_ms(ts, tsns) == (ts * 1_000_000_000 + tsns) // 1_000_000


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"P": -1}, "price must be > 0"),
        ({"P": "abc"}, "price is not a number"),
        ({"Q": None}, "missing qty"),
        ({"TS": "yesterday"}, "TS is not a number"),
        ({"TSNS": 2_000_000_000}, "TSNS is not nanoseconds"),
        ({"F": "sideways"}, "F is not a flag bitmask"),
        ({"FSYM": None}, "without M/FSYM/TSYM"),
        ({"FSYM": "btc"}, "is not written Exchange:BASE/QUOTE"),
        ({"TS": 2_000_000_000}, "in the future"),
    ],
)
def test_bad_trades_carry_the_reason_and_raw_frame(overrides: dict[str, object], reason: str) -> None:
    raw = trade(**overrides)
    event = cc.parse_frame(raw, now_ms=NOW_MS)
    assert isinstance(event, events.BadTrade)
    assert reason in event.reason
    assert event.raw == raw.decode()


def test_id_less_trade_has_no_id() -> None:
    event = cc.parse_frame(trade(ID=None), now_ms=NOW_MS)
    assert isinstance(event, events.Trade)
    assert event.tick.id is None


def test_welcome_carries_sockets_and_rate_limits() -> None:
    event = cc.parse_frame(
        frame(
            TYPE="20",
            MESSAGE="STREAMERWELCOME",
            SERVER_NAME="ccc-streamer01",
            SOCKETS_ACTIVE=1,
            SOCKETS_REMAINING=0,
            RATELIMIT_MAX_SECOND=30,
            RATELIMIT_REMAINING_SECOND=29,
        )
    )
    assert event == events.Welcome(
        sockets_active=1,
        sockets_remaining=0,
        rate_limits={"RATELIMIT_MAX_SECOND": 30, "RATELIMIT_REMAINING_SECOND": 29},
        server="ccc-streamer01",
    )


@pytest.mark.parametrize(
    ("raw", "event"),
    [
        (
            frame(TYPE="16", MESSAGE="SUBSCRIBECOMPLETE", SUB="0~Kraken~ETH~EUR"),
            events.SubscribeComplete("0~Kraken~ETH~EUR"),
        ),
        (
            frame(TYPE="17", MESSAGE="UNSUBSCRIBECOMPLETE", SUB="0~Kraken~ETH~EUR"),
            events.UnsubscribeComplete("0~Kraken~ETH~EUR"),
        ),
        (frame(TYPE="3", MESSAGE="LOADCOMPLETE", INFO="All loaded."), events.LoadComplete("All loaded.")),
        (
            frame(TYPE="18", MESSAGE="UNSUBSCRIBEALLCOMPLETE", INFO="Removed 2"),
            events.UnsubscribeAllComplete("Removed 2"),
        ),
        (frame(TYPE="999", MESSAGE="HEARTBEAT", TIMEMS=1732406400000), events.Heartbeat(1732406400000)),
        (frame(TYPE="401", MESSAGE="UNAUTHORIZED", INFO="bad key"), events.Unauthorized("UNAUTHORIZED", "bad key")),
        (frame(TYPE=999, MESSAGE="HEARTBEAT"), events.Heartbeat(None)),
        (frame(TYPE="24", ACTION="U"), events.Other("24", '{"TYPE":"24","ACTION":"U"}')),
    ],
)
def test_control_frames(raw: bytes, event: events.Event) -> None:
    assert cc.parse_frame(raw) == event


def test_rate_limit_messages_are_classified() -> None:
    def limited(message: str) -> events.RateLimited:
        event = cc.parse_frame(frame(TYPE="429", MESSAGE=message, PARAMETER="0~Coinbase~BTC~USD"))
        assert isinstance(event, events.RateLimited)
        return event

    assert limited("RATE_LIMIT_OPENING_SOCKETS_TOO_FAST").kind == "opening_too_fast"
    sockets = limited("TOO_MANY_SOCKETS_MAX_1_PER_CLIENT")
    assert (sockets.kind, sockets.limit) == ("too_many_sockets", 1)
    subs = limited("TOO_MANY_SUBSCRIPTIONS_MAX_300_PER_SOCKET")
    assert (subs.kind, subs.limit, subs.parameter) == ("too_many_subscriptions", 300, "0~Coinbase~BTC~USD")


@pytest.mark.parametrize(
    ("message", "channel_error", "disconnect"),
    [
        ("INVALID_SUB", True, False),
        ("INVALID_PARAMETER", True, False),
        ("SUBSCRIPTION_UNRECOGNIZED", True, False),
        ("SUBSCRIPTION_ALREADY_ACTIVE", True, False),
        ("INVALID_JSON", False, False),
        ("FORCE_DISCONNECT", False, True),
    ],
)
def test_streamer_errors(message: str, channel_error: bool, disconnect: bool) -> None:
    event = cc.parse_frame(frame(TYPE="500", MESSAGE=message, PARAMETER="0~Nope~BTC~USD", INFO="why"))
    assert isinstance(event, events.StreamerError)
    assert (event.parameter, event.info) == ("0~Nope~BTC~USD", "why")
    assert (event.is_channel_error, event.is_disconnect) == (channel_error, disconnect)


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'{"MESSAGE": "no type"}', b'{"TYPE": null}'])
def test_non_frames_raise_protocol_error(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        cc.parse_frame(raw)


def test_requests() -> None:
    dialect = cc.LegacyDialect()
    assert orjson.loads(dialect.subscribe(["0~Coinbase~BTC~USD"])) == {
        "action": "SubAdd",
        "subs": ["0~Coinbase~BTC~USD"],
    }
    assert orjson.loads(dialect.unsubscribe(["0~Coinbase~BTC~USD"])) == {
        "action": "SubRemove",
        "subs": ["0~Coinbase~BTC~USD"],
    }


def test_channels() -> None:
    assert cc.trade_channel("Coinbase:BTC/USD") == "0~Coinbase~BTC~USD"
    assert cc.channel_symbol("0~CCCAGG~ETH~EUR") == "CCCAGG:ETH/EUR"
    for bad in ("5~CCCAGG~BTC~USD", "0~Coinbase~BTC", "0~Coinbase~btc~USD", "0~~BTC~USD"):
        with pytest.raises(InvalidSymbol):
            cc.channel_symbol(bad)
    with pytest.raises(InvalidSymbol):
        cc.trade_channel("BTC-USD")


exchanges = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}", fullmatch=True)
assets = st.from_regex(r"[A-Z0-9]{1,16}", fullmatch=True)


@given(exchanges, assets, assets)
def test_channel_and_symbol_round_trip(exchange: str, base: str, quote: str) -> None:
    symbol = f"{exchange}:{base}/{quote}"
    assert cc.channel_symbol(cc.trade_channel(symbol)) == symbol


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


@given(
    st.sampled_from(["0", "20", "16", "17", "3", "18", "999", "401", "429", "500", "2", "5", "24", "1101"]),
    st.dictionaries(
        st.sampled_from(["M", "FSYM", "TSYM", "F", "ID", "TS", "TSNS", "Q", "P", "SUB", "MESSAGE", "PARAMETER"]),
        json_values,
    ),
)
def test_any_typed_frame_becomes_an_event(kind: str, fields: dict[str, object]) -> None:
    """Whatever the streamer sends with a TYPE, parsing yields an event and never raises."""
    event = cc.parse_frame(orjson.dumps({"TYPE": kind, **fields}), now_ms=NOW_MS)
    if kind == "0":
        assert isinstance(event, events.Trade | events.BadTrade)


@given(
    st.floats(min_value=1e-8, max_value=1e7, allow_nan=False),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.integers(1_300_000_000, int(time.time()) - 1),
)
def test_valid_trades_keep_price_and_quantity_bit_for_bit(price: float, qty: float, ts: int) -> None:
    event = cc.parse_frame(trade(P=price, Q=qty, TS=ts, TSNS=None))
    assert isinstance(event, events.Trade)
    assert (event.tick.price, event.tick.qty, event.tick.ts) == (price, qty, ts * 1000)


def test_trade_time_rejects_non_numbers() -> None:
    with pytest.raises(InvalidTick):
        cc.trade_time_ms(True)
    assert cc.trade_time_ms(1732406400.5) == 1732406400500
