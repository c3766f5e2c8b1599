"""OKX v5 public REST: instruments and trades since a moment, without a key.

From https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments and
#order-book-trading-market-data-get-trades-history: `GET
/api/v5/public/instruments?instType=SPOT&instId=BTC-USDT` gives `tickSz` (an unknown
instrument answers a non-zero `code`); `GET /api/v5/market/history-trades?instId=&type=2&
after=<ms>&limit=100` pages backwards by timestamp through single trades (`tradeId`,
`px`, `sz`, `side`, `ts`), newest first. Answers are `{"code": "0", "msg": "", "data":
[...]}`; a non-zero code is an error. Limit 20 requests per 2 s: the client paces 5 a second.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import Tick
from candleflow.sources.exchanges import fields
from candleflow.sources.exchanges.http import ApiError, JsonApi

PAGE = 100
MAX_COLLECTED = 1_000_000
BATCH = 5000
_SIDES = {"buy": "buy", "sell": "sell"}


def trade(symbol: str, row: dict[str, Any]) -> Tick:
    """One OKX trade (websocket push and REST write it alike)."""
    return fields.tick(
        symbol,
        fields.integer(row.get("ts"), "ts"),
        fields.number(row.get("px"), "px (price)"),
        fields.number(row.get("sz"), "sz (size)"),
        _SIDES.get(row.get("side"), "unknown"),  # type: ignore[arg-type]
        fields.trade_id(row.get("tradeId")),
    )


class OkxRest:
    def __init__(self, base_url: str, *, rate: float = 5.0) -> None:
        self.api = JsonApi(base_url, rate=rate, name="OKX REST")

    async def _data(self, path: str, params: dict[str, str | int]) -> list[Any]:
        answer = await self.api.get(path, params)
        if not isinstance(answer, dict) or str(answer.get("code")) != "0" or not isinstance(answer.get("data"), list):
            code = answer.get("code") if isinstance(answer, dict) else None
            message = answer.get("msg") if isinstance(answer, dict) else str(answer)[:200]
            raise ApiError(f"OKX REST: {path} {params}: code {code}: {message}")
        return list(answer["data"])

    async def tick_sizes(self, natives: Sequence[str]) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for native in natives:
            try:
                rows = await self._data("/api/v5/public/instruments", {"instType": "SPOT", "instId": native})
            except ApiError as exc:
                if exc.status is None and "code 51001" in str(exc):  # instrument does not exist
                    continue
                if exc.status in (400, 404):
                    continue
                raise
            for row in rows:
                if isinstance(row, dict) and row.get("instId") == native:
                    found[native] = fields.increment(row.get("tickSz"))
        return found

    async def trades(self, native: str, symbol: str, since_ms: int) -> AsyncIterator[list[Tick]]:
        after = int(time.time() * 1000) + 1
        collected: list[Tick] = []
        while after > since_ms and len(collected) < MAX_COLLECTED:
            rows = await self._data(
                "/api/v5/market/history-trades", {"instId": native, "type": 2, "after": after, "limit": PAGE}
            )
            page = []
            for row in rows:
                if not isinstance(row, dict):
                    raise InvalidTick(f"an OKX REST trade is not an object: {row!r}")
                page.append(trade(symbol, row))
            collected.extend(page)
            if len(rows) < PAGE or not page:
                break
            oldest = min(tick.ts for tick in page)
            # `after` is exclusive: oldest + 1 keeps the rest of that millisecond, unless
            # the whole page lay in it
            after = oldest + 1 if oldest + 1 < after else oldest
        collected.sort(key=lambda t: (t.ts, int(t.id or 0) if (t.id or "").isdigit() else 0))
        for i in range(0, len(collected), BATCH):
            yield collected[i : i + BATCH]

    async def close(self) -> None:
        await self.api.close()
