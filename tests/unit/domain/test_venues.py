"""Every venue spelling of a market maps to one symbol and back (the one place for them)."""

from __future__ import annotations

import pytest

from candleflow.domain.exceptions import ConfigError, InvalidSymbol
from candleflow.domain.feeds import FeedSpec, canonical, parse_feeds
from candleflow.domain.venues import BINANCE, BITSTAMP, COINBASE, COINDESK, KRAKEN, OKX, Spellings


@pytest.mark.parametrize(
    ("venue", "pair", "symbol", "stream", "rest"),
    [
        (BINANCE, "btc/usdt", "Binance:BTC/USDT", "btcusdt", "BTCUSDT"),
        (COINBASE, "BTC/USD", "Coinbase:BTC/USD", "BTC-USD", "BTC-USD"),
        (KRAKEN, "XBT/USD", "Kraken:BTC/USD", "BTC/USD", "XBTUSD"),
        (KRAKEN, "DOGE/USD", "Kraken:DOGE/USD", "DOGE/USD", "XDGUSD"),
        (OKX, "BTC/USDT", "OKX:BTC/USDT", "BTC-USDT", "BTC-USDT"),
        (BITSTAMP, "Bitstamp:ETH/EUR", "Bitstamp:ETH/EUR", "etheur", "etheur"),
    ],
)
def test_pairs_map_to_one_symbol_and_back(venue: object, pair: str, symbol: str, stream: str, rest: str) -> None:
    assert venue.symbol(pair) == symbol  # type: ignore[attr-defined]
    assert venue.stream(symbol) == stream  # type: ignore[attr-defined]
    assert venue.rest(symbol) == rest  # type: ignore[attr-defined]
    assert Spellings(venue, [symbol]).symbol(stream) == symbol  # type: ignore[arg-type]
    assert Spellings(venue, [symbol], rest=True).symbol(rest) == symbol  # type: ignore[arg-type]


def test_a_venue_refuses_another_venues_market_and_unpaired_text() -> None:
    with pytest.raises(InvalidSymbol, match="not a Binance market"):
        BINANCE.symbol("Kraken:BTC/USD")
    with pytest.raises(InvalidSymbol, match="BASE/QUOTE"):
        BINANCE.symbol("BTCUSDT")
    assert COINDESK.stream("OKX:ETH/USDT") == "okex:ETH-USDT"
    assert COINDESK.stream("Coinbase:BTC/USD") == "coinbase:BTC-USD"


def test_feeds_setting_grammar() -> None:
    assert parse_feeds("binance:BTC/USDT+eth/usdt, Kraken:XBT/USD") == (
        FeedSpec("binance", ("Binance:BTC/USDT", "Binance:ETH/USDT")),
        FeedSpec("kraken", ("Kraken:BTC/USD",)),
    )
    assert parse_feeds("synthetic,coinbase") == (FeedSpec("synthetic"), FeedSpec("coinbase"))
    assert canonical("CoinDesk:Coinbase:BTC/USD+OKX:ETH/USDT") == "coindesk:Coinbase:BTC/USD+OKX:ETH/USDT"
    assert canonical("kraken:xbt/usd") == "kraken:BTC/USD"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("binanse", "unknown source 'binanse'"),
        ("binance:BTCUSDT", "binance market 'BTCUSDT' is not BASE/QUOTE"),
        ("binance:", "followed by no market"),
        ("binance:BTC/USDT++ETH/USDT", "an empty market"),
        ("kraken,kraken:ETH/USD", "kraken is listed twice"),
        ("none,binance", "none cannot be combined"),
        ("synthetic:BTC/USD", "synthetic takes no markets here"),
        ("coindesk:BTC/USD", "Exchange:BASE/QUOTE"),
        ("binance,,kraken", "an empty entry"),
    ],
)
def test_a_wrong_setting_says_what_to_fix(text: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_feeds(text)
    assert says in str(caught.value)
    assert "CANDLEFLOW_SOURCE=" in str(caught.value)
