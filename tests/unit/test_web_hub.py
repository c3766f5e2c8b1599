"""The SSE hub's per-client queue: coalescing, resets, the bound; and update decoding."""

from __future__ import annotations

import orjson

from candleflow.web.hub import BarUpdate, Hub, Subscriber, decode


def bar(at: int, close: float = 1.0, correction: bool = False) -> BarUpdate:
    return BarUpdate("Coinbase:BTC/USD", "1", at, 1.0, 2.0, 0.5, close, 3.0, 4, correction)


def test_updates_to_the_same_bar_coalesce() -> None:
    sub = Subscriber(("Coinbase:BTC/USD", "1"), limit=4)
    for close in (1.0, 2.0, 3.0):
        assert sub.offer(bar(60, close))
    assert sub.offer(bar(120, 9.0))
    reset, bars = sub.take()
    assert not reset
    assert [(b.time, b.close) for b in bars] == [(60, 3.0), (120, 9.0)]
    assert not sub.wakeup.is_set()


def test_older_bar_and_corrections_become_reset() -> None:
    sub = Subscriber(("Coinbase:BTC/USD", "1"), limit=4)
    sub.sent(120)
    sub.offer(bar(60))
    assert sub.take() == (True, [])
    sub.offer(bar(120, correction=True))
    assert sub.take() == (True, [])
    sub.offer(bar(180))
    assert [b.time for b in sub.take()[1]] == [180]


def test_too_many_distinct_bars_drops_the_client() -> None:
    dropped: list[bool] = []
    sub = Subscriber(("Coinbase:BTC/USD", "1"), limit=3, on_drop=lambda: dropped.append(True))
    assert all(sub.offer(bar(60 * i)) for i in range(3))
    assert not sub.offer(bar(600))
    assert sub.closed == "slow"
    assert dropped == [True]
    assert sub.pending == {}  # nothing kept for a dropped client


def test_hub_routes_by_symbol_and_resolution() -> None:
    hub = Hub("localhost:1", "bars.updates", queue_limit=8)
    one = hub.subscribe("Coinbase:BTC/USD", "1")
    five = hub.subscribe("Coinbase:BTC/USD", "5")
    hub.dispatch(bar(60))
    assert [b.time for b in one.take()[1]] == [60]
    assert five.take() == (False, [])
    assert hub.clients == 2
    hub.unsubscribe(one)
    hub.unsubscribe(one)  # twice is harmless
    assert hub.clients == 1
    hub.dispatch(bar(120))
    assert one.pending == {}


def test_decode() -> None:
    record = {
        "symbol": "Coinbase:BTC/USD",
        "resolution": "1",
        "time": 60,
        "open": 1,
        "high": 2,
        "low": 0.5,
        "close": 1.5,
        "volume": 3,
        "trades": 4,
        "correction": True,
    }
    update = decode(orjson.dumps(record))
    assert update == BarUpdate("Coinbase:BTC/USD", "1", 60, 1.0, 2.0, 0.5, 1.5, 3.0, 4, True)
    assert orjson.loads(update.event_data()) == {k: v for k, v in record.items() if k != "correction"}
    assert decode(b"not json") is None
    assert decode(orjson.dumps({"symbol": "x"})) is None
    assert decode(None) is None
