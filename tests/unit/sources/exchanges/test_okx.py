"""OKX v5 public frames, from the `trades` channel and websocket overview examples."""

from __future__ import annotations

import orjson

from candleflow.domain.ticks import Tick
from candleflow.domain.venues import OKX, Spellings
from candleflow.sources.exchanges.okx import OkxProtocol
from candleflow.sources.stream.events import Alive, BadTrade, NotUnderstood, Reconnect, Refused, Subscribed, Trades

SYMBOLS = ["OKX:BTC/USDT", "OKX:ETH/USDT"]


def protocol() -> OkxProtocol:
    return OkxProtocol("wss://ws.okx.com:8443/ws/v5/public", Spellings(OKX, SYMBOLS))


def test_subscribe_and_text_ping() -> None:
    (message,) = protocol().subscribe()
    assert orjson.loads(message) == {
        "op": "subscribe",
        "args": [{"channel": "trades", "instId": "BTC-USDT"}, {"channel": "trades", "instId": "ETH-USDT"}],
    }
    assert protocol().ping() == "ping"
    assert protocol().parse("pong") == [Alive()]


def test_trades_push() -> None:
    frame = {"arg": {"channel": "trades", "instId": "BTC-USDT"}, "data": [
        {"instId": "BTC-USDT", "tradeId": "130639474", "px": "42219.9", "sz": "0.12060306", "side": "buy",
         "ts": "1630048897897", "count": "3", "source": "0", "seqId": 1234}]}  # fmt: skip
    assert protocol().parse(orjson.dumps(frame)) == [
        Trades([Tick("OKX:BTC/USDT", 1630048897897, 42219.9, 0.12060306, "buy", "130639474")])
    ]
    frame["data"][0]["ts"] = "soon"  # type: ignore[index]
    assert isinstance(protocol().parse(orjson.dumps(frame))[0], BadTrade)


def test_events() -> None:
    ok = {"event": "subscribe", "arg": {"channel": "trades", "instId": "ETH-USDT"}, "connId": "a4d3ae55"}
    assert protocol().parse(orjson.dumps(ok)) == [Subscribed(("ETH-USDT",))]
    error = {"event": "error", "code": "60018", "msg": "Wrong URL or channel:trades,instId:ETH-USDT doesn't exist",
             "connId": "a4d3ae55"}  # fmt: skip
    (refused,) = protocol().parse(orjson.dumps(error))
    assert isinstance(refused, Refused) and refused.native == "ETH-USDT" and "60018" in refused.reason
    notice = {"event": "notice", "code": "64008", "msg": "The connection will soon be closed for a service upgrade."}
    assert isinstance(protocol().parse(orjson.dumps(notice))[0], Reconnect)
    assert isinstance(protocol().parse('{"event":"login"}')[0], NotUnderstood)
