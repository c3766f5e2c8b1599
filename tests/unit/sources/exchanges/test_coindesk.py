"""CoinDesk Data streamer frames: what the public material documents is read, the rest is
reported as not understood instead of guessed at."""

from __future__ import annotations

import orjson

from candleflow.domain.ticks import Tick
from candleflow.domain.venues import COINDESK, Spellings
from candleflow.sources.exchanges.coindesk import CoinDeskProtocol
from candleflow.sources.stream.events import Alive, Fatal, NotUnderstood, Refused, Subscribed, Trades

SYMBOLS = ["Coinbase:BTC/USD", "OKX:ETH/USDT"]


def protocol() -> CoinDeskProtocol:
    return CoinDeskProtocol("wss://data-streamer.coindesk.com", Spellings(COINDESK, SYMBOLS), key="K", stream="s1")


def test_key_in_url_and_header_one_subscription_per_market() -> None:
    p = protocol()
    assert p.url() == "wss://data-streamer.coindesk.com/?api_key=K"
    assert p.headers() == {"Authorization": "Apikey K"}
    assert [orjson.loads(m) for m in p.subscribe()] == [
        {"action": "SUBSCRIBE", "type": "s1", "market": "coinbase", "instruments": ["BTC-USD"]},
        {"action": "SUBSCRIBE", "type": "s1", "market": "okex", "instruments": ["ETH-USDT"]},
    ]


def test_a_frame_with_the_trade_fields_is_a_trade_whatever_its_type() -> None:
    frame = {"TYPE": "952", "MARKET": "coinbase", "INSTRUMENT": "BTC-USD", "MAPPED_INSTRUMENT": "BTC-USD",
             "BASE": "BTC", "QUOTE": "USD", "SIDE": "SELL", "ID": "123", "TIMESTAMP": 1700000000,
             "TIMESTAMP_NS": 250000000, "QUANTITY": 0.5, "PRICE": 37000.5, "CCSEQ": 9}  # fmt: skip
    assert protocol().parse(orjson.dumps(frame)) == [
        Trades([Tick("Coinbase:BTC/USD", 1700000000250, 37000.5, 0.5, "sell", "123")])
    ]


def test_control_messages_and_what_is_not_documented() -> None:
    assert protocol().parse('{"TYPE":"4000","MESSAGE":"SESSION_WELCOME"}') == [Alive()]
    assert protocol().parse('{"TYPE":"4013","MESSAGE":"HEARTBEAT"}') == [Alive()]
    assert protocol().parse('{"TYPE":"4005","MESSAGE":"SUBSCRIPTION_ACCEPTED","INFO":"coinbase BTC-USD"}') == [
        Subscribed(("coinbase:BTC-USD",))
    ]
    (refused,) = protocol().parse('{"TYPE":"4006","MESSAGE":"SUBSCRIPTION_REJECTED","INFO":"okex ETH-USDT"}')
    assert isinstance(refused, Refused) and refused.native == "okex:ETH-USDT"
    (fatal,) = protocol().parse('{"TYPE":"4011","MESSAGE":"INVALID_API_KEY"}')
    assert isinstance(fatal, Fatal) and "CANDLEFLOW_COINDESK_API_KEY" in fatal.reason
    for unknown in ('{"TYPE":"1101","VALUE":1}', '{"PRICE":1}', "[1]", "{"):
        assert isinstance(protocol().parse(unknown)[0], NotUnderstood), unknown
