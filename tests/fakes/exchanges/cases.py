"""Each venue as the tests drive it: its fake server, two markets, and the settings that
point a feed at the fake (`CANDLEFLOW_<VENUE>_WS_URL`, `..._REST_URL`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from candleflow.sources.exchanges.coindesk import coindesk_spec
from candleflow.sources.exchanges.registry import SPECS
from candleflow.sources.stream.protocol import ExchangeSpec
from tests.fakes.exchanges import binance, bitstamp, coinbase, coindesk, kraken, okx
from tests.fakes.exchanges.base import Book, Dialect, FakeExchange


@dataclass(frozen=True)
class Case:
    kind: str
    dialect: Callable[[], Dialect]
    #: native -> (symbol, starting price)
    markets: dict[str, tuple[str, float]]
    #: a pair written like the others that the venue does not list
    unknown: tuple[str, str]
    #: the price increment the fake's instrument list gives every market, as a tick carries it
    tick_size: str | None
    whole_seconds: bool = False

    @property
    def symbols(self) -> list[str]:
        return [symbol for symbol, _ in self.markets.values()]

    def spec(self) -> ExchangeSpec:
        return coindesk_spec(coindesk.KEY, "spot_v1_trades") if self.kind == "coindesk" else SPECS[self.kind]

    def server(self, *, history: int = 0, minutes: float = 90.0, beat: float = 0.5) -> FakeExchange:
        """A fake of this venue whose markets hold `history` trades over the past `minutes`."""
        natives = {native: price for native, (_, price) in self.markets.items()}
        natives[self.unknown[0]] = 1.0
        book = Book(natives)
        now = int(time.time() * 1000)
        for native in self.markets:
            book.history(native, history, start_ms=now - int(minutes * 60_000), end_ms=now - 2000,
                         whole_seconds=self.whole_seconds)  # fmt: skip
        server = FakeExchange(self.dialect(), book, beat_interval=beat, whole_seconds=self.whole_seconds)
        server.unknown.add(self.unknown[0])
        return server

    def frames(self, trades: int, batch: int = 1) -> list[str]:
        """The frames that carry `trades` new trades of this case's markets, `batch` a frame."""
        server = self.server()
        natives = list(self.markets)
        now = int(time.time() * 1000) - trades
        out: list[str] = []
        for i in range(0, trades, batch):
            native = natives[(i // batch) % len(natives)]
            made = [server.book.make(native, now + i + k) for k in range(min(batch, trades - i))]
            out.extend(server.dialect.trade_frames(server, made))
        return out

    def env(self, server: FakeExchange) -> dict[str, str]:
        prefix = f"CANDLEFLOW_{self.kind.upper()}"
        env = {f"{prefix}_WS_URL": server.ws_url, f"{prefix}_REST_URL": server.rest_url}
        if self.kind == "coindesk":
            env["CANDLEFLOW_COINDESK_API_KEY"] = coindesk.KEY
        return env

    def source(self, symbols: list[str] | None = None) -> str:
        """This venue's entry of CANDLEFLOW_SOURCE."""
        chosen = symbols if symbols is not None else self.symbols
        if self.kind == "coindesk":
            return "coindesk:" + "+".join(chosen)
        return f"{self.kind}:" + "+".join(s.partition(":")[2] for s in chosen)


CASES = {
    case.kind: case
    for case in (
        Case("binance", binance.BinanceDialect,
             {"btcusdt": ("Binance:BTC/USDT", 97000.0), "ethusdt": ("Binance:ETH/USDT", 3400.0)},
             ("dogeusdx", "Binance:DOGE/USDX"), "0.01"),
        Case("coinbase", coinbase.CoinbaseDialect,
             {"BTC-USD": ("Coinbase:BTC/USD", 97000.0), "ETH-USD": ("Coinbase:ETH/USD", 3400.0)},
             ("DOGE-USDX", "Coinbase:DOGE/USDX"), "0.01"),
        Case("kraken", kraken.KrakenDialect,
             {"BTC/USD": ("Kraken:BTC/USD", 97000.0), "ETH/USD": ("Kraken:ETH/USD", 3400.0)},
             ("DOGE/USD", "Kraken:DOGE/USD"), "0.1"),
        Case("okx", okx.OkxDialect,
             {"BTC-USDT": ("OKX:BTC/USDT", 97000.0), "ETH-USDT": ("OKX:ETH/USDT", 3400.0)},
             ("DOGE-USDX", "OKX:DOGE/USDX"), "0.1"),
        Case("bitstamp", bitstamp.BitstampDialect,
             {"btcusd": ("Bitstamp:BTC/USD", 97000.0), "ethusd": ("Bitstamp:ETH/USD", 3400.0)},
             ("dogeusdx", "Bitstamp:DOGE/USDX"), "1", whole_seconds=True),
        Case("coindesk", coindesk.CoinDeskDialect,
             {"coinbase:BTC-USD": ("Coinbase:BTC/USD", 97000.0), "kraken:ETH-USD": ("Kraken:ETH/USD", 3400.0)},
             ("coinbase:DOGE-USDX", "Coinbase:DOGE/USDX"), None),
    )
}  # fmt: skip
