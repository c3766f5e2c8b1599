"""Binance frames in and out, from the examples of web-socket-streams.md."""

from __future__ import annotations

import orjson

from candleflow.domain.ticks import Tick
from candleflow.domain.venues import BINANCE, Spellings
from candleflow.sources.exchanges.binance import BinanceProtocol, stream_url
from candleflow.sources.stream.events import BadTrade, NotUnderstood, Reconnect, Refused, Subscribed, Trades

SYMBOLS = ["Binance:BTC/USDT", "Binance:ETH/USDT"]


def protocol() -> BinanceProtocol:
    return BinanceProtocol("wss://stream.binance.com:9443", Spellings(BINANCE, SYMBOLS))


def test_subscribes_the_trade_streams_at_the_raw_endpoint() -> None:
    p = protocol()
    assert p.url() == "wss://stream.binance.com:9443/ws"
    assert stream_url("ws://127.0.0.1:9/ws") == "ws://127.0.0.1:9/ws"
    (message,) = p.subscribe()
    assert orjson.loads(message) == {"method": "SUBSCRIBE", "params": ["btcusdt@trade", "ethusdt@trade"], "id": 1}
    assert p.parse('{"result":null,"id":1}') == [Subscribed(("btcusdt", "ethusdt"))]


def test_a_trade_event_is_a_tick_whose_side_is_the_takers() -> None:
    frame = {"e": "trade", "E": 1672515782136, "s": "BTCUSDT", "t": 12345, "p": "0.001", "q": "100",
             "T": 1672515782136, "m": True, "M": True}  # fmt: skip
    assert protocol().parse(orjson.dumps(frame)) == [
        Trades([Tick("Binance:BTC/USDT", 1672515782136, 0.001, 100.0, "sell", "12345")])
    ]
    combined = {"stream": "ethusdt@trade", "data": {**frame, "s": "ETHUSDT", "m": False}}
    (event,) = protocol().parse(orjson.dumps(combined))
    assert isinstance(event, Trades) and event.ticks[0].symbol == "Binance:ETH/USDT" and event.ticks[0].side == "buy"


def test_bad_trades_errors_shutdowns_and_garbage() -> None:
    bad = {"e": "trade", "s": "BTCUSDT", "t": 1, "p": "abc", "q": "1", "T": 1672515782136, "m": True}
    (event,) = protocol().parse(orjson.dumps(bad))
    assert isinstance(event, BadTrade) and "p (price)" in event.reason
    p = protocol()
    p.subscribe()
    refused = p.parse('{"code": 2, "msg": "Invalid request: too many parameters", "id": 1}')
    assert [e.native for e in refused if isinstance(e, Refused)] == ["btcusdt", "ethusdt"]
    assert "btcusdt@trade" in refused[0].reason and "too many parameters" in refused[0].reason  # type: ignore[union-attr]
    assert protocol().parse('{"e":"serverShutdown","E":1770123456789}') == [
        Reconnect("Binance announced a server shutdown")
    ]
    assert isinstance(protocol().parse("not json")[0], NotUnderstood)
    assert isinstance(protocol().parse('{"e":"aggTrade"}')[0], NotUnderstood)
    other = {"e": "trade", "s": "DOGEUSDT", "t": 1, "p": "1", "q": "1", "T": 1672515782136, "m": True}
    assert isinstance(protocol().parse(orjson.dumps(other))[0], NotUnderstood)
