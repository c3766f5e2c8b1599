"""A synthetic trade feed: a seeded random walk per symbol, for demos and load.

Prices follow a geometric random walk with each symbol's realistic tick size (BTC and
ETH to cents, DOGE to 5 decimals), trade sizes are lognormal around a typical notional,
sides lean with the last price move, and trades come in bursts (a taker sweeping the
book prints several trades in the same millisecond). The sequence of trades depends
only on the seed; `run_synthetic` stamps them with the current time and paces them at
`rate` ticks per second over all symbols together.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass

from candleflow.domain.symbols import parse_symbol
from candleflow.domain.ticks import Tick
from candleflow.sources.publisher import TickSink

#: Rough starting prices; unknown bases start at 100 in the quote currency.
START_PRICES: dict[str, float] = {
    "BTC": 97000.0,
    "ETH": 3400.0,
    "SOL": 240.0,
    "BNB": 620.0,
    "XRP": 1.45,
    "ADA": 0.95,
    "DOGE": 0.39,
    "SHIB": 0.000024,
    "LTC": 95.0,
    "AVAX": 40.0,
}

#: Typical notional (quote currency) of one trade; sizes spread lognormally around it.
TYPICAL_NOTIONAL = 250.0


def price_decimals_for(price: float) -> int:
    """Tick size of a market quoting around `price`: 2 decimals above 10, more below."""
    if price >= 10:
        return 2
    if price >= 1:
        return 4
    if price >= 0.01:
        return 5
    # sub-cent coins: about five significant digits
    return min(10, 5 - math.floor(math.log10(price)))


def qty_decimals_for(price: float) -> int:
    """Size precision: expensive bases trade in small fractions (BTC to 8 decimals)."""
    if price >= 1000:
        return 8
    if price >= 1:
        return 4
    return 0


@dataclass(frozen=True, slots=True)
class SyntheticTrade:
    """One generated trade before it is stamped with a time; `gap` is seconds since the last."""

    gap: float
    symbol: str
    price: float
    qty: float
    side: str
    id: str

    def tick(self, ts_ms: int) -> Tick:
        return Tick(self.symbol, ts_ms, self.price, self.qty, self.side, self.id)


class _Walk:
    def __init__(self, symbol: str, rng: random.Random) -> None:
        base = parse_symbol(symbol).base
        start = START_PRICES.get(base, 100.0)
        self.symbol = symbol
        self.decimals = price_decimals_for(start)
        self.qty_decimals = qty_decimals_for(start)
        self.tick_size = 10.0**-self.decimals
        self.price = round(start * math.exp(rng.gauss(0, 0.01)), self.decimals)
        self.volatility = 0.00025  # per trade, about 1.5 % a day at 20 trades/s
        self.trades = 0
        self.last_move = 0.0

    def step(self, rng: random.Random) -> tuple[float, float, str]:
        move = rng.gauss(0, self.volatility)
        price = max(round(self.price * math.exp(move), self.decimals), self.tick_size)
        self.last_move = price - self.price
        self.price = price
        lean = 0.5 + (0.2 if self.last_move > 0 else -0.2 if self.last_move < 0 else 0.0)
        side = "buy" if rng.random() < lean else "sell"
        notional = TYPICAL_NOTIONAL * math.exp(rng.gauss(0, 1.3))
        smallest = 10.0**-self.qty_decimals
        qty = max(round(notional / price, self.qty_decimals), smallest)
        self.trades += 1
        return price, qty, side


class SyntheticFeed:
    """Deterministic stream of `SyntheticTrade`s for `symbols` at `rate` trades/s on average."""

    def __init__(self, symbols: tuple[str, ...] | list[str], *, rate: float, seed: int = 1) -> None:
        if not symbols:
            raise ValueError("the synthetic feed needs at least one symbol")
        if not rate > 0:
            raise ValueError(f"rate must be > 0 ticks per second, got {rate}")
        self.symbols = tuple(symbols)
        self.rate = rate
        self.seed = seed

    def trades(self, resume: Mapping[str, tuple[float, int]] | None = None) -> Iterator[SyntheticTrade]:
        """The trades; a symbol in `resume` (last price, last trade id) goes on from there,
        so a feed restarted on another worker never repeats a trade id of the log."""
        rng = random.Random(self.seed)
        walks = [_Walk(symbol, rng) for symbol in self.symbols]
        for walk in walks:
            if resume and walk.symbol in resume:
                price, last_id = resume[walk.symbol]
                walk.price, walk.trades = max(round(price, walk.decimals), walk.tick_size), last_id
        # Bigger markets trade more: weight 1, 1/2, 1/3, ... in the order given.
        weights = [1.0 / (i + 1) for i in range(len(walks))]
        mean_burst = 1.0 + 0.15 * 3.5  # 15 % of events are bursts of 2-6 trades
        while True:
            gap = rng.expovariate(self.rate / mean_burst)
            walk = rng.choices(walks, weights)[0]
            burst = rng.randint(2, 6) if rng.random() < 0.15 else 1
            for n in range(burst):
                price, qty, side = walk.step(rng)
                yield SyntheticTrade(gap if n == 0 else 0.0, walk.symbol, price, qty, side, str(walk.trades))


async def run_synthetic(
    feed: SyntheticFeed,
    sink: TickSink,
    *,
    stop: asyncio.Event | None = None,
    count: int | None = None,
    duration: float | None = None,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    trades: Iterator[SyntheticTrade] | None = None,
) -> int:
    """Publish the feed's trades stamped with `clock()` until stopped, `count` or `duration`.

    `trades` continues a walk already begun (after the history of `candleflow.sources.history`);
    by default the feed starts from its seed. Returns the number of ticks handed to `sink`.
    """
    started = monotonic()
    due = started
    sent = 0
    for trade in feed.trades() if trades is None else trades:
        if count is not None and sent >= count:
            break
        if stop is not None and stop.is_set():
            break
        due += trade.gap
        if duration is not None and due - started > duration:
            break
        delay = due - monotonic()
        if delay > 0.001:
            await sleep(delay)
        elif sent & 0xFF == 0:
            await asyncio.sleep(0)
        await sink.publish(trade.tick(int(clock() * 1000)))
        sent += 1
    return sent
