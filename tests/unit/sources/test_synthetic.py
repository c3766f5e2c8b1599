"""The synthetic feed: deterministic per seed, realistic precision, paced by rate."""

from __future__ import annotations

import itertools
import time

import pytest

from candleflow.domain.ticks import price_decimals, validate_tick
from candleflow.sources.synthetic import SyntheticFeed, price_decimals_for, run_synthetic
from tests.fakes.collecting_sink import CollectingSink

SYMBOLS = ("Coinbase:BTC/USD", "Coinbase:ETH/USD", "Kraken:SOL/USD", "Binance:DOGE/USDT", "Binance:SHIB/USDT")


def take(feed: SyntheticFeed, n: int) -> list[tuple[float, str, float, float, str, str]]:
    return [(t.gap, t.symbol, t.price, t.qty, t.side, t.id) for t in itertools.islice(feed.trades(), n)]


def test_same_seed_same_trades_other_seed_other_trades() -> None:
    assert take(SyntheticFeed(SYMBOLS, rate=50, seed=7), 2000) == take(SyntheticFeed(SYMBOLS, rate=50, seed=7), 2000)
    assert take(SyntheticFeed(SYMBOLS, rate=50, seed=7), 50) != take(SyntheticFeed(SYMBOLS, rate=50, seed=8), 50)


def test_prices_have_each_markets_precision() -> None:
    limits = {"BTC": 2, "ETH": 2, "SOL": 2, "DOGE": 5, "SHIB": 10}
    seen: dict[str, int] = {}
    for trade in itertools.islice(SyntheticFeed(SYMBOLS, rate=50, seed=3).trades(), 20000):
        base = trade.symbol.split(":")[1].split("/")[0]
        decimals = price_decimals(trade.price)
        assert decimals <= limits[base], (trade.symbol, trade.price)
        seen[base] = max(seen.get(base, 0), decimals)
        assert trade.price > 0
        assert trade.qty > 0
    assert seen["BTC"] == 2
    assert seen["DOGE"] == 5
    assert price_decimals_for(97000) == 2
    assert price_decimals_for(0.39) == 5


def test_trades_are_valid_ticks_with_plausible_sizes_and_bursts() -> None:
    trades = list(itertools.islice(SyntheticFeed(SYMBOLS[:1], rate=10, seed=1).trades(), 5000))
    now = int(time.time() * 1000)
    for trade in trades[:100]:
        validate_tick(
            {
                "symbol": trade.symbol,
                "ts": now,
                "price": trade.price,
                "qty": trade.qty,
                "side": trade.side,
                "id": trade.id,
            }
        )
    notionals = sorted(t.price * t.qty for t in trades)
    median = notionals[len(notionals) // 2]
    assert 50 < median < 1000  # a few hundred dollars a trade
    assert notionals[-1] > 20 * median  # with a fat tail
    bursts = sum(1 for t in trades if t.gap == 0.0)
    assert 0.2 < bursts / len(trades) < 0.5
    assert {t.side for t in trades} == {"buy", "sell"}
    assert [t.id for t in trades[:3]] == ["1", "2", "3"]


def test_average_rate_is_the_requested_rate() -> None:
    trades = list(itertools.islice(SyntheticFeed(SYMBOLS, rate=40, seed=5).trades(), 40000))
    elapsed = sum(t.gap for t in trades)
    assert elapsed == pytest.approx(1000, rel=0.05)


async def test_run_stamps_current_time_and_stops_at_count() -> None:
    sink = CollectingSink()
    clock = iter(range(1_732_406_400, 1_732_406_400 + 1000))
    sent = await run_synthetic(
        SyntheticFeed(SYMBOLS, rate=1e6, seed=2), sink, count=100, clock=lambda: float(next(clock))
    )
    assert sent == 100
    assert [t.ts for t in sink.ticks[:3]] == [1_732_406_400_000, 1_732_406_401_000, 1_732_406_402_000]


async def test_run_paces_at_rate() -> None:
    sink = CollectingSink()
    started = time.monotonic()
    await run_synthetic(SyntheticFeed(SYMBOLS, rate=200, seed=2), sink, duration=0.5)
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 1.0
    assert 50 < len(sink.ticks) < 200


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least one symbol"):
        SyntheticFeed((), rate=1)
    with pytest.raises(ValueError, match="rate"):
        SyntheticFeed(SYMBOLS, rate=0)


def test_a_resumed_feed_goes_on_from_the_last_trade_in_the_log() -> None:
    """A feed taken over by another worker continues the ids (and price) the log holds
    instead of numbering its trades from 1 again."""
    feed = SyntheticFeed(["Coinbase:BTC/USD", "Kraken:SOL/USD"], rate=50, seed=3)
    fresh = list(itertools.islice(feed.trades(), 200))
    resumed = list(itertools.islice(feed.trades({"Coinbase:BTC/USD": (61_234.5, 41)}), 200))
    btc = [t for t in resumed if t.symbol == "Coinbase:BTC/USD"]
    assert [t.id for t in btc] == [str(41 + n) for n in range(1, len(btc) + 1)]
    assert abs(btc[0].price / 61_234.5 - 1) < 0.01
    sol = [t.id for t in resumed if t.symbol == "Kraken:SOL/USD"]
    assert sol == [t.id for t in fresh if t.symbol == "Kraken:SOL/USD"], "a symbol not in the log starts at 1"
