"""The exchanges candleflow reads directly, and how each one spells a market: the one
place that maps `Kraken:BTC/USD` to `BTC/USD` (Kraken's websocket), `XBTUSD` (Kraken's
REST), `btcusdt` (a Binance stream), `BTC-USD` (Coinbase, OKX) or `btcusd` (Bitstamp),
and back.

A symbol names a market, not a source: `Coinbase:BTC/USD` is one series whether its
trades came through CryptoCompare or through Coinbase's own socket. So each venue's
`exchange` is the market name CryptoCompare gives that exchange, and a symbol's base
and quote are the assets' common codes (BTC, DOGE), whatever the venue writes (Kraken's
REST says XBT and XDG).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from candleflow.domain.exceptions import InvalidSymbol
from candleflow.domain.symbols import Symbol, parse_symbol

#: The `exchange` of an aggregator that streams many exchanges' markets (CoinDesk Data).
ANY = "*"
#: Asset codes some venues write their own way -> the common code.
KRAKEN_ASSETS = {"XBT": "BTC", "XDG": "DOGE"}
_KRAKEN_NATIVE = {common: own for own, common in KRAKEN_ASSETS.items()}


@dataclass(frozen=True)
class Venue:
    """One exchange: its source name, symbol prefix and spellings (its endpoints are
    settings: `CANDLEFLOW_<KEY>_WS_URL`, `CANDLEFLOW_<KEY>_REST_URL`)."""

    #: the word in CANDLEFLOW_SOURCE and the settings prefix (`binance`)
    key: str
    #: the exchange part of its symbols (`Binance`)
    exchange: str
    default_pairs: tuple[str, ...]
    #: symbol -> the pair as the websocket names it
    stream_name: Callable[[Symbol], str]
    #: symbol -> the pair as the REST API names it
    rest_name: Callable[[Symbol], str]
    #: how an asset code the venue writes reads in a symbol (`XBT` -> `BTC`)
    assets: dict[str, str] = field(default_factory=dict)

    def symbol(self, pair: str) -> str:
        """`BTC/USDT` or `Binance:BTC/USDT` -> `Binance:BTC/USDT` (venue asset codes
        such as Kraken's XBT read as the common code); `InvalidSymbol` otherwise."""
        text = pair.strip()
        if ":" in text:
            exchange, _, text = text.partition(":")
            if exchange.lower() != self.exchange.lower():
                raise InvalidSymbol(f"{pair!r} is not a {self.exchange} market: write it BASE/QUOTE")
        base, slash, quote = text.upper().partition("/")
        if not slash:
            raise InvalidSymbol(f"{pair!r} is not a pair written BASE/QUOTE (e.g. BTC/USD)")
        parsed = parse_symbol(f"{self.exchange}:{self.assets.get(base, base)}/{self.assets.get(quote, quote)}")
        return str(parsed)

    def stream(self, symbol: str) -> str:
        return self.stream_name(self._own(symbol))

    def rest(self, symbol: str) -> str:
        return self.rest_name(self._own(symbol))

    def _own(self, symbol: str) -> Symbol:
        parsed = parse_symbol(symbol)
        if self.exchange not in (parsed.exchange, ANY):
            raise InvalidSymbol(f"{symbol} is not a {self.exchange} market")
        return parsed


class Spellings:
    """Both directions for a set of symbols of one venue: what to subscribe, and which
    symbol a frame's pair belongs to (`None` for a pair not asked for)."""

    def __init__(self, venue: Venue, symbols: Iterable[str], rest: bool = False) -> None:
        name = venue.rest if rest else venue.stream
        self.native: dict[str, str] = {symbol: name(symbol) for symbol in symbols}
        self._symbol = {native: symbol for symbol, native in self.native.items()}

    def symbol(self, native: str) -> str | None:
        return self._symbol.get(native)

    def __iter__(self) -> Iterator[str]:
        return iter(self.native.values())

    def __len__(self) -> int:
        return len(self.native)


def _joined(sep: str, lower: bool = False) -> Callable[[Symbol], str]:
    def name(symbol: Symbol) -> str:
        text = f"{symbol.base}{sep}{symbol.quote}"
        return text.lower() if lower else text

    return name


def _kraken_rest(symbol: Symbol) -> str:
    return f"{_KRAKEN_NATIVE.get(symbol.base, symbol.base)}{_KRAKEN_NATIVE.get(symbol.quote, symbol.quote)}"


BINANCE = Venue(
    "binance",
    "Binance",
    ("BTC/USDT", "ETH/USDT"),
    _joined("", lower=True),
    _joined(""),
)
COINBASE = Venue(
    "coinbase",
    "Coinbase",
    ("BTC/USD", "ETH/USD"),
    _joined("-"),
    _joined("-"),
)
KRAKEN = Venue(
    "kraken",
    "Kraken",
    ("BTC/USD", "ETH/USD"),
    _joined("/"),
    _kraken_rest,
    KRAKEN_ASSETS,
)
OKX = Venue(
    "okx",
    "OKX",
    ("BTC/USDT", "ETH/USDT"),
    _joined("-"),
    _joined("-"),
)
BITSTAMP = Venue(
    "bitstamp",
    "Bitstamp",
    ("BTC/USD", "ETH/USD"),
    _joined("", lower=True),
    _joined("", lower=True),
)

#: CoinDesk Data market ids that are not the exchange's name in lower case.
COINDESK_MARKETS = {"OKX": "okex"}


def _coindesk(symbol: Symbol) -> str:
    market = COINDESK_MARKETS.get(symbol.exchange, symbol.exchange.lower())
    return f"{market}:{symbol.base}-{symbol.quote}"


#: CoinDesk Data (`market:BASE-QUOTE`, both directions); an aggregator, not in `VENUES`.
COINDESK = Venue("coindesk", ANY, (), _coindesk, _coindesk)

VENUES: dict[str, Venue] = {venue.key: venue for venue in (BINANCE, COINBASE, KRAKEN, OKX, BITSTAMP)}
