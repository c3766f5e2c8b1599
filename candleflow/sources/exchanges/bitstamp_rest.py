"""Bitstamp REST: market increments and the last day's trades, without a key.

From https://www.bitstamp.net/api/: `GET /api/v2/markets/` lists markets with
`market_symbol` (`btcusd`) and `counter_decimals` (the price's decimals);
`GET /api/v2/transactions/{pair}/?time=minute|hour|day` gives the trades of the last
minute, hour or day (`tid`, `date` in seconds, `price`, `amount`, `type` 0 buy / 1 sell),
newest first. So a catch-up reaches back one day at most; the client takes the shortest
window that covers it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import Tick
from candleflow.sources.exchanges import fields
from candleflow.sources.exchanges.http import ApiError, JsonApi

WINDOWS = (("minute", 60), ("hour", 3600), ("day", 86400))
_SIDES = {"0": "buy", "1": "sell", 0: "buy", 1: "sell"}


class BitstampRest:
    def __init__(self, base_url: str, *, rate: float = 2.0) -> None:
        self.api = JsonApi(base_url, rate=rate, name="Bitstamp REST")

    async def tick_sizes(self, natives: Sequence[str]) -> dict[str, str | None]:
        markets = await self.api.get("/api/v2/markets/")
        if not isinstance(markets, list):
            raise ApiError(f"Bitstamp REST: /api/v2/markets/ is not a list: {str(markets)[:200]}")
        found: dict[str, str | None] = {}
        for market in markets:
            if isinstance(market, dict) and market.get("market_symbol") in natives:
                decimals = market.get("counter_decimals")
                size = fields.increment(f"1e-{decimals}") if isinstance(decimals, int) else None
                found[market["market_symbol"]] = size
        return found

    async def trades(self, native: str, symbol: str, since_ms: int) -> AsyncIterator[list[Tick]]:
        age = time.time() - since_ms / 1000
        window = next((name for name, seconds in WINDOWS if seconds >= age), "day")
        rows = await self.api.get(f"/api/v2/transactions/{native}/", {"time": window})
        if not isinstance(rows, list):
            raise ApiError(f"Bitstamp REST: transactions of {native} not understood: {str(rows)[:200]}")
        ticks = sorted((_tick(symbol, row) for row in rows), key=lambda t: (t.ts, int(t.id or 0)))
        if ticks:
            yield ticks

    async def close(self) -> None:
        await self.api.close()


def _tick(symbol: str, row: object) -> Tick:
    if not isinstance(row, dict):
        raise InvalidTick(f"a Bitstamp REST trade is not an object: {row!r}")
    return fields.tick(
        symbol,
        fields.integer(row.get("date"), "date") * 1000,
        fields.number(row.get("price"), "price"),
        fields.number(row.get("amount"), "amount"),
        _SIDES.get(row.get("type"), "unknown"),
        fields.trade_id(row.get("tid")),
    )
