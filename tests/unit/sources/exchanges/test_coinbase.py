"""Coinbase Advanced Trade frames, from the channel documentation's examples."""

from __future__ import annotations

import orjson

from candleflow.domain.ticks import Tick
from candleflow.domain.venues import COINBASE, Spellings
from candleflow.sources.exchanges.coinbase import CoinbaseProtocol
from candleflow.sources.stream.events import Alive, BadTrade, NotUnderstood, Refused, Subscribed, Trades

SYMBOLS = ["Coinbase:BTC/USD", "Coinbase:ETH/USD"]


def protocol() -> CoinbaseProtocol:
    return CoinbaseProtocol("wss://advanced-trade-ws.coinbase.com", Spellings(COINBASE, SYMBOLS))


def envelope(channel: str, events: list[dict[str, object]]) -> bytes:
    return orjson.dumps({"channel": channel, "client_id": "", "timestamp": "2023-02-09T20:19:35.39625135Z",
                         "sequence_num": 0, "events": events})  # fmt: skip


def test_one_subscribe_message_per_channel_trades_and_heartbeats() -> None:
    messages = [orjson.loads(m) for m in protocol().subscribe()]
    assert messages == [
        {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"], "channel": "market_trades"},
        {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"], "channel": "heartbeats"},
    ]


def test_snapshot_and_update_trades() -> None:
    trade = {"trade_id": "000000000", "product_id": "ETH-USD", "price": "1260.01", "size": "0.3", "side": "BUY",
             "time": "2019-08-14T20:42:27.265Z"}  # fmt: skip
    second = {
        **trade,
        "trade_id": "1",
        "product_id": "BTC-USD",
        "side": "SELL",
        "time": "2023-02-09T20:19:35.39625135Z",
    }
    events = protocol().parse(envelope("market_trades", [{"type": "snapshot", "trades": [trade, second]}]))
    assert events == [
        Trades(
            [
                Tick("Coinbase:ETH/USD", 1565815347265, 1260.01, 0.3, "buy", "000000000"),
                Tick("Coinbase:BTC/USD", 1675973975396, float(second["price"]), 0.3, "sell", "1"),
            ],
            snapshot=True,
        )
    ]
    (update,) = protocol().parse(envelope("market_trades", [{"type": "update", "trades": [trade]}]))
    assert isinstance(update, Trades) and not update.snapshot
    bad = {**trade, "size": "lots"}
    assert isinstance(protocol().parse(envelope("market_trades", [{"type": "update", "trades": [bad]}]))[0], BadTrade)


def test_control_messages() -> None:
    beat = envelope(
        "heartbeats", [{"current_time": "2023-06-23 20:31:56.121961769 +0000 UTC", "heartbeat_counter": 3049}]
    )
    assert protocol().parse(beat) == [Alive()]
    confirmed = envelope(
        "subscriptions", [{"subscriptions": {"market_trades": ["BTC-USD"], "heartbeats": ["BTC-USD"]}}]
    )
    assert protocol().parse(confirmed) == [Subscribed(("BTC-USD",))]
    error = protocol().parse('{"type":"error","message":"Failed to subscribe: invalid product_id ETH-USD"}')
    assert error == [Refused("ETH-USD", "Coinbase: Failed to subscribe: invalid product_id ETH-USD")]
    assert protocol().parse('{"type":"error","message":"rate limited"}')[0] == Refused(None, "Coinbase: rate limited")
    assert isinstance(protocol().parse(envelope("ticker", []))[0], NotUnderstood)
