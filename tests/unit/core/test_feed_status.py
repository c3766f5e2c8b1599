"""A feed's markets are down only once they stayed down past the threshold, with the
client's latest reason; reconnects and frames not understood are counted per market."""

from __future__ import annotations

from candleflow.core.feed_status import FeedStatus


def test_down_past_the_threshold_with_the_latest_reason() -> None:
    now = [1000.0]
    status = FeedStatus(down_after=30.0, clock=lambda: now[0])
    status.register("kraken", ["Kraken:BTC/USD", "Kraken:ETH/USD"])
    assert status.down() == []
    now[0] += 31
    assert [symbol for _, symbol, _ in status.down()] == ["Kraken:BTC/USD", "Kraken:ETH/USD"]
    status.connected("kraken", ["Kraken:BTC/USD", "Kraken:ETH/USD"])
    status.traded("kraken", "Kraken:BTC/USD")
    assert status.down() == [] and status.snapshot()["status"] == "up"
    status.disconnected("kraken", ["Kraken:BTC/USD", "Kraken:ETH/USD"], "closed by the venue (code 1006)")
    now[0] += 10
    status.disconnected("kraken", ["Kraken:BTC/USD", "Kraken:ETH/USD"], "ClientConnectorError: Cannot connect")
    assert status.down() == [], "a reconnect under way is not news"
    now[0] += 25
    assert status.down() == [
        ("kraken", "Kraken:BTC/USD", "ClientConnectorError: Cannot connect"),
        ("kraken", "Kraken:ETH/USD", "ClientConnectorError: Cannot connect"),
    ]
    status.not_understood("kraken", ["Kraken:ETH/USD"])
    snapshot = status.snapshot()
    assert snapshot["status"] == "down"
    markets = snapshot["sources"]["kraken"]  # type: ignore[index]
    assert markets["Kraken:BTC/USD"]["reconnects"] == 1
    assert markets["Kraken:BTC/USD"]["last_trade_age_s"] == 35.0
    assert markets["Kraken:ETH/USD"]["not_understood"] == 1
