"""Coinbase Advanced Trade public REST: product increments and recent trades, without a key.

From https://docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api/ (public
"market" endpoints): `GET /api/v3/brokerage/market/products/{product_id}` gives the
product with its `price_increment` (404 for an unknown product);
`GET /api/v3/brokerage/market/products/{product_id}/ticker?limit=&start=&end=` the trades
between two unix times, newest first, in the websocket's trade shape. The client pages
backwards from now by `end` (collecting, then handing the trades over oldest first) and
paces 5 requests a second (the public limit is 10).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import Tick
from candleflow.sources.exchanges import fields
from candleflow.sources.exchanges.http import ApiError, JsonApi

SIDES = {"BUY": "buy", "SELL": "sell"}


def side(value: object) -> str:
    return SIDES.get(value, "unknown") if type(value) is str else "unknown"


def trade(symbol: str, row: dict[str, Any]) -> Tick:
    """One Coinbase trade (websocket and REST write it alike)."""
    return fields.tick(
        symbol,
        fields.rfc3339_ms(row.get("time")),
        fields.number(row.get("price"), "price"),
        fields.number(row.get("size"), "size"),
        side(row.get("side")),
        fields.trade_id(row.get("trade_id")),
    )


PAGE = 1000
#: Trades one catch-up collects at most before handing them over.
MAX_COLLECTED = 1_000_000
BATCH = 5000


class CoinbaseRest:
    def __init__(self, base_url: str, *, rate: float = 5.0) -> None:
        self.api = JsonApi(base_url, rate=rate, name="Coinbase REST")

    async def tick_sizes(self, natives: Sequence[str]) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for native in natives:
            try:
                product = await self.api.get(f"/api/v3/brokerage/market/products/{native}")
            except ApiError as exc:
                if exc.status in (400, 404):
                    continue
                raise
            if isinstance(product, dict):
                found[native] = fields.increment(product.get("price_increment") or product.get("quote_increment"))
        return found

    async def trades(self, native: str, symbol: str, since_ms: int) -> AsyncIterator[list[Tick]]:
        end = int(time.time()) + 1
        start = since_ms // 1000
        collected: list[Tick] = []
        while end > start and len(collected) < MAX_COLLECTED:
            answer = await self.api.get(
                f"/api/v3/brokerage/market/products/{native}/ticker", {"limit": PAGE, "start": start, "end": end}
            )
            rows = answer.get("trades") if isinstance(answer, dict) else None
            if not isinstance(rows, list):
                raise ApiError(f"Coinbase REST: trades of {native} not understood: {str(answer)[:200]}")
            page = []
            for row in rows:
                if not isinstance(row, dict):
                    raise InvalidTick(f"a Coinbase REST trade is not an object: {row!r}")
                page.append(trade(symbol, row))
            collected.extend(page)
            if len(rows) < PAGE or not page:
                break
            oldest = min(tick.ts for tick in page) // 1000
            end = oldest if oldest < end else end - 1  # a full second of trades: step past it
        collected.sort(key=lambda t: (t.ts, _order(t.id)))
        for i in range(0, len(collected), BATCH):
            yield collected[i : i + BATCH]

    async def close(self) -> None:
        await self.api.close()


def _order(ident: str | None) -> tuple[int, str]:
    text = ident or ""
    return (int(text), "") if text.isdigit() else (0, text)
