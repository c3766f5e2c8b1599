"""Bitstamp websocket v2 frames, from its documentation's examples."""

from __future__ import annotations

import orjson

from candleflow.domain.ticks import Tick
from candleflow.domain.venues import BITSTAMP, Spellings
from candleflow.sources.exchanges.bitstamp import BitstampProtocol
from candleflow.sources.stream.events import Alive, BadTrade, NotUnderstood, Reconnect, Refused, Subscribed, Trades

SYMBOLS = ["Bitstamp:BTC/USD", "Bitstamp:ETH/EUR"]


def protocol() -> BitstampProtocol:
    return BitstampProtocol("wss://ws.bitstamp.net", Spellings(BITSTAMP, SYMBOLS))


def test_one_subscription_per_channel_and_the_heartbeat() -> None:
    assert [orjson.loads(m) for m in protocol().subscribe()] == [
        {"event": "bts:subscribe", "data": {"channel": "live_trades_btcusd"}},
        {"event": "bts:subscribe", "data": {"channel": "live_trades_etheur"}},
    ]
    assert orjson.loads(protocol().ping() or "") == {"event": "bts:heartbeat"}


def test_trade_event() -> None:
    frame = {"data": {"id": 277234531, "timestamp": "1683544327", "amount": 0.00225, "amount_str": "0.00225000",
             "price": 28704, "price_str": "28704", "type": 1, "microtimestamp": "1683544327128000",
             "buy_order_id": 1, "sell_order_id": 2}, "channel": "live_trades_btcusd", "event": "trade"}  # fmt: skip
    assert protocol().parse(orjson.dumps(frame)) == [
        Trades([Tick("Bitstamp:BTC/USD", 1683544327128, 28704.0, 0.00225, "sell", "277234531")])
    ]
    frame["data"]["amount_str"] = "-1"  # type: ignore[index]
    assert isinstance(protocol().parse(orjson.dumps(frame))[0], BadTrade)


def test_control_events() -> None:
    ok = '{"event":"bts:subscription_succeeded","channel":"live_trades_etheur","data":{}}'
    assert protocol().parse(ok) == [Subscribed(("etheur",))]
    assert protocol().parse('{"event":"bts:heartbeat","channel":"","data":{"status":"success"}}') == [Alive()]
    assert isinstance(protocol().parse('{"event":"bts:request_reconnect","channel":"","data":""}')[0], Reconnect)
    error = (
        '{"event":"bts:error","channel":"live_trades_etheur","data":{"code":null,"message":"Bad subscription string."}}'
    )
    assert protocol().parse(error) == [Refused("etheur", "Bitstamp error None: Bad subscription string.")]
    assert isinstance(protocol().parse('{"event":"order_created"}')[0], NotUnderstood)
