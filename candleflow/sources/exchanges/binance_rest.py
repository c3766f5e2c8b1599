"""Binance spot REST: the instrument list and the trades since a moment, without a key.

From `rest-api.md` of binance/binance-spot-api-docs
(https://github.com/binance/binance-spot-api-docs/blob/master/rest-api.md):
`GET /api/v3/exchangeInfo?symbols=[...]` lists markets with their `PRICE_FILTER`
`tickSize` (an unknown symbol fails the whole request with code -1121, so the client
then asks one by one); `GET /api/v3/aggTrades?startTime=` gives the first aggregate
trade at or after a time, whose `f` is the first raw trade id; `GET
/api/v3/historicalTrades?fromId=&limit=1000` pages through raw trades (the ids of the
`@trade` stream) oldest first. Request weights: 20, 4 and 25 of 6,000 a minute; the
client paces 3 requests a second.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import Tick
from candleflow.sources.exchanges import fields
from candleflow.sources.exchanges.http import ApiError, JsonApi

PAGE = 1000


class BinanceRest:
    def __init__(self, base_url: str, *, rate: float = 3.0) -> None:
        self.api = JsonApi(base_url, rate=rate, name="Binance REST")

    async def tick_sizes(self, natives: Sequence[str]) -> dict[str, str | None]:
        try:
            answer = await self.api.get("/api/v3/exchangeInfo", {"symbols": orjson.dumps(list(natives)).decode()})
        except ApiError as exc:
            if "-1121" not in str(exc) or len(natives) == 1:
                if "-1121" in str(exc):
                    return {}
                raise
            found: dict[str, str | None] = {}
            for native in natives:
                found.update(await self.tick_sizes([native]))
            return found
        return {
            item["symbol"]: _tick_size(item)
            for item in (answer.get("symbols") or [])
            if isinstance(item, dict) and isinstance(item.get("symbol"), str)
        }

    async def trades(self, native: str, symbol: str, since_ms: int) -> AsyncIterator[list[Tick]]:
        first = await self.api.get("/api/v3/aggTrades", {"symbol": native, "startTime": since_ms, "limit": 1})
        if not isinstance(first, list) or not first:
            return
        next_id = fields.integer(first[0].get("f"), "f (first trade id)")
        while True:
            page = await self.api.get("/api/v3/historicalTrades", {"symbol": native, "fromId": next_id, "limit": PAGE})
            if not isinstance(page, list):
                raise ApiError(f"Binance REST: historicalTrades of {native} is not a list: {str(page)[:200]}")
            ticks = [_tick(symbol, row) for row in page]
            if ticks:
                yield ticks
                next_id = int(ticks[-1].id or next_id) + 1
            if len(page) < PAGE:
                return

    async def close(self) -> None:
        await self.api.close()


def _tick_size(item: dict[str, Any]) -> str | None:
    for rule in item.get("filters") or []:
        if isinstance(rule, dict) and rule.get("filterType") == "PRICE_FILTER":
            return fields.increment(rule.get("tickSize"))
    return None


def _tick(symbol: str, row: object) -> Tick:
    if not isinstance(row, dict):
        raise InvalidTick(f"a Binance REST trade is not an object: {row!r}")
    maker = row.get("isBuyerMaker")
    return fields.tick(
        symbol,
        fields.integer(row.get("time"), "time"),
        fields.number(row.get("price"), "price"),
        fields.number(row.get("qty"), "qty"),
        "sell" if maker is True else "buy" if maker is False else "unknown",
        fields.trade_id(row.get("id")),
    )
