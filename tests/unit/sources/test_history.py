"""Past synthetic ticks: stamped in order from the start of the window to its end,
dense over the last hours and sparse before, continuing the live walk."""

from __future__ import annotations

from candleflow.core.settings import Settings
from candleflow.sources.history import EARLIER_PER_MINUTE, RECENT_HOURS, RECENT_PER_MINUTE, past_ticks
from candleflow.sources.synthetic import SyntheticFeed

SYMBOLS = Settings().synthetic_symbols
HOUR_MS = 3_600_000


def test_past_ticks_fill_the_window_in_order_at_the_history_density() -> None:
    feed = SyntheticFeed(SYMBOLS, rate=20, seed=3)
    end = 1_700_000_000_000
    ticks = list(past_ticks(feed.trades(), feed, start_ms=end - 48 * HOUR_MS, end_ms=end))
    times = [t.ts for t in ticks]
    assert times == sorted(times)
    assert end - 48 * HOUR_MS <= times[0] < end - 47 * HOUR_MS
    assert end - HOUR_MS < times[-1] < end
    recent_from = end - int(RECENT_HOURS * HOUR_MS)
    recent = [t for t in ticks if t.ts >= recent_from]
    earlier = [t for t in ticks if t.ts < recent_from]
    expected_recent = RECENT_HOURS * 60 * RECENT_PER_MINUTE
    expected_earlier = (48 - RECENT_HOURS) * 60 * EARLIER_PER_MINUTE
    assert 0.9 * expected_recent < len(recent) < 1.1 * expected_recent
    assert 0.9 * expected_earlier < len(earlier) < 1.1 * expected_earlier
    assert {t.symbol for t in ticks} == set(SYMBOLS)
    minutes_with_doge = {t.ts // 60_000 for t in recent if t.symbol == "Binance:DOGE/USDT"}
    assert len(minutes_with_doge) > 0.75 * RECENT_HOURS * 60  # the least traded default symbol


def test_live_trades_continue_the_walk_after_the_history() -> None:
    feed = SyntheticFeed(SYMBOLS, rate=20, seed=3)
    trades = feed.trades()
    past = list(past_ticks(trades, feed, start_ms=0, end_ms=HOUR_MS))
    after = next(trades)
    fresh = list(past_ticks(feed.trades(), feed, start_ms=0, end_ms=HOUR_MS))
    assert [t.price for t in past] == [t.price for t in fresh]
    last_of_symbol = next(t for t in reversed(past) if t.symbol == after.symbol)
    assert abs(after.price / last_of_symbol.price - 1) < 0.01
