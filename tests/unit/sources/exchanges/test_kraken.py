"""Kraken websocket v2 frames, from the `trade`, `ping` and `heartbeat` pages' examples."""

from __future__ import annotations

import orjson

from candleflow.domain.ticks import Tick
from candleflow.domain.venues import KRAKEN, Spellings
from candleflow.sources.exchanges.kraken import KrakenProtocol
from candleflow.sources.stream.events import Alive, BadTrade, NotUnderstood, Refused, Subscribed, Trades

SYMBOLS = ["Kraken:BTC/USD", "Kraken:MATIC/USD"]


def protocol() -> KrakenProtocol:
    return KrakenProtocol("wss://ws.kraken.com/v2", Spellings(KRAKEN, SYMBOLS))


def test_subscribe_with_snapshot_and_ping() -> None:
    (message,) = protocol().subscribe()
    assert orjson.loads(message) == {
        "method": "subscribe",
        "params": {"channel": "trade", "symbol": ["BTC/USD", "MATIC/USD"], "snapshot": True},
        "req_id": 1,
    }
    assert orjson.loads(protocol().ping() or "") == {"method": "ping"}


def test_snapshot_trades() -> None:
    frame = {"channel": "trade", "type": "snapshot", "data": [
        {"symbol": "MATIC/USD", "side": "buy", "price": 0.5147, "qty": 6423.46326, "ord_type": "limit",
         "trade_id": 4665846, "timestamp": "2023-09-25T07:48:36.925533Z"}]}  # fmt: skip
    assert protocol().parse(orjson.dumps(frame)) == [
        Trades([Tick("Kraken:MATIC/USD", 1695628116925, 0.5147, 6423.46326, "buy", "4665846")], snapshot=True)
    ]
    frame["data"][0]["price"] = "x"  # type: ignore[index]
    assert isinstance(protocol().parse(orjson.dumps(frame))[0], BadTrade)


def test_acknowledgements_errors_heartbeats() -> None:
    ok = {"method": "subscribe", "result": {"channel": "trade", "snapshot": True, "symbol": "BTC/USD"}, "success": True,
          "time_in": "2023-09-25T09:04:31.742599Z", "time_out": "2023-09-25T09:04:31.742648Z"}  # fmt: skip
    assert protocol().parse(orjson.dumps(ok)) == [Subscribed(("BTC/USD",))]
    refused = {"error": "Currency pair not supported MATIC/USD", "method": "subscribe", "success": False,
               "symbol": "MATIC/USD"}  # fmt: skip
    assert protocol().parse(orjson.dumps(refused)) == [
        Refused("MATIC/USD", "Kraken: Currency pair not supported MATIC/USD")
    ]
    assert protocol().parse('{"channel":"heartbeat"}') == [Alive()]
    assert protocol().parse('{"method":"pong","req_id":1,"time_in":"x","time_out":"y"}') == [Alive()]
    status = {"channel": "status", "type": "update", "data": [{"api_version": "v2", "system": "online"}]}
    assert protocol().parse(orjson.dumps(status)) == [Alive()]
    assert isinstance(protocol().parse('{"channel":"book"}')[0], NotUnderstood)
