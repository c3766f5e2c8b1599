"""Bounded memory of recent trades per symbol."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from candleflow.domain.ticks import Tick
from candleflow.sources.dedupe import RecentTrades, trade_key


def tick(trade_id: str | None, symbol: str = "Coinbase:BTC/USD", ts: int = 1_732_406_400_000) -> Tick:
    return Tick(symbol, ts, 100.0, 1.0, "buy", trade_id)


def test_same_id_same_symbol_is_a_duplicate() -> None:
    recent = RecentTrades()
    assert not recent.seen(tick("1"))
    assert recent.seen(tick("1"))
    assert not recent.seen(tick("1", symbol="Kraken:BTC/USD"))  # another exchange's id space
    assert not recent.seen(tick("2"))


def test_memory_is_bounded_per_symbol() -> None:
    recent = RecentTrades(per_symbol=3)
    for n in range(10):
        recent.seen(tick(str(n)))
    assert len(recent) == 3
    assert recent.seen(tick("9"))
    assert not recent.seen(tick("0"))  # forgotten long ago


def test_id_less_trades_are_keyed_by_content() -> None:
    recent = RecentTrades()
    assert not recent.seen(tick(None))
    assert recent.seen(tick(None))
    assert not recent.seen(tick(None, ts=1_732_406_400_001))
    assert trade_key(tick(None)) != trade_key(tick("x"))


@given(st.lists(st.integers(0, 10**6), unique=True, max_size=200), st.integers(0, 20), st.integers(1, 5))
def test_replays_of_recent_trades_never_pass_twice(ids: list[int], replay: int, reconnects: int) -> None:
    """A stream interrupted by reconnects that each replay the last `replay` trades
    comes out as the original stream, once each, in order."""
    recent = RecentTrades(per_symbol=64)
    delivered: list[int] = []
    stream: list[int] = []
    cut = max(1, len(ids) // (reconnects + 1))
    for start in range(0, len(ids), cut):
        stream.extend(ids[max(0, start - replay) : start + cut])  # replay, then new trades
    for trade_id in stream:
        if not recent.seen(tick(str(trade_id))):
            delivered.append(trade_id)
    assert delivered == ids
