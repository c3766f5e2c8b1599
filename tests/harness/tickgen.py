"""Deterministic tick files for tests: many symbols, several days, quiet gaps and
out-of-order ticks (seconds to hours late)."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

DAY_MS = 86_400_000

SYMBOLS = ("Coinbase:BTC/USD", "Coinbase:ETH/USD", "Kraken:SOL/USD", "Binance:DOGE/USDT", "CCCAGG:XRP/EUR")
DECIMALS = {"BTC": 2, "ETH": 2, "SOL": 3, "DOGE": 5, "XRP": 4}


def generate(
    count: int,
    *,
    symbols: Sequence[str] = SYMBOLS,
    days: float = 3.0,
    seed: int = 7,
    late_fraction: float = 0.05,
    end_ms: int | None = None,
) -> list[dict[str, object]]:
    """`count` tick records in file order, ending a little before `end_ms` (default now).

    Times advance with random gaps spread over the whole span (a few hundred times the
    mean gap now and then: quiet periods); `late_fraction` of the ticks carry a time
    seconds to hours before their neighbours.
    """
    rnd = random.Random(seed)
    end = int(time.time() * 1000) - 60_000 if end_ms is None else end_ms
    start = end - int(days * DAY_MS)
    gaps = [rnd.expovariate(1.0) + (rnd.uniform(200, 800) if rnd.random() < 0.0005 else 0.0) for _ in range(count)]
    scale = (end - start - 1) / max(sum(gaps), 1e-9)
    prices = {s: 10 ** rnd.uniform(-1, 4.5) for s in symbols}
    records: list[dict[str, object]] = []
    now = float(start)
    for i, gap in enumerate(gaps):
        now += gap * scale
        symbol = rnd.choice(symbols)
        decimals = DECIMALS.get(symbol.split(":")[1].split("/")[0], 2)
        prices[symbol] = max(prices[symbol] * (1 + rnd.gauss(0, 0.002)), 10**-decimals)
        ts = int(now)
        if rnd.random() < late_fraction:
            ts -= int(rnd.choice([rnd.uniform(1, 60), rnd.uniform(60, 3600), rnd.uniform(3600, 4 * 3600)]) * 1000)
        records.append(
            {
                "symbol": symbol,
                "ts": max(ts, start),
                "price": round(prices[symbol], decimals),
                "qty": round(rnd.lognormvariate(-2, 1.5), 6),
                "side": rnd.choice(["buy", "sell"]),
                "id": str(i),
            }
        )
    return records
