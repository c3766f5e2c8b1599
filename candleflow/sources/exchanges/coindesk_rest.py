"""CoinDesk Data REST trades (`https://data-api.coindesk.com`), with the API key.

`GET /spot/v1/historical/trades?market=coinbase&instrument=BTC-USD&after_ts=<s>&limit=5000`
answers `{"Data": [trade, ...], "Err": {...}}`, oldest first, each trade with `MARKET`,
`INSTRUMENT`, `MAPPED_INSTRUMENT`, `BASE`, `QUOTE`, `SIDE`, `ID`, `TIMESTAMP` (s),
`TIMESTAMP_NS`, `QUANTITY`, `PRICE`, `CCSEQ`; a non-empty `Err` is an error. The legacy
`min-api` bar backfill (`candleflow backfill`) stays beside it: that one writes REST
bars; this one publishes exact trades.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import Tick
from candleflow.sources.exchanges import fields
from candleflow.sources.exchanges.http import ApiError, JsonApi

PAGE = 5000
_SIDES = {"BUY": "buy", "SELL": "sell"}


def trade(symbol: str, frame: dict[str, Any]) -> Tick:
    """One CoinDesk Data trade (streamer and REST write it alike)."""
    seconds = fields.integer(frame.get("TIMESTAMP"), "TIMESTAMP")
    ns = frame.get("TIMESTAMP_NS")
    ms = seconds * 1000
    if type(ns) is int and 0 <= ns < 1_000_000_000:
        ms += ns // 1_000_000
    side = frame.get("SIDE")
    return fields.tick(
        symbol,
        ms,
        fields.number(frame.get("PRICE"), "PRICE"),
        fields.number(frame.get("QUANTITY"), "QUANTITY"),
        _SIDES.get(side, "unknown") if type(side) is str else "unknown",
        fields.trade_id(frame.get("ID")),
    )


class CoinDeskRest:
    def __init__(self, base_url: str, *, key: str, rate: float = 5.0) -> None:
        self.api = JsonApi(base_url, rate=rate, name="CoinDesk Data REST", headers={"Authorization": f"Apikey {key}"})

    async def tick_sizes(self, natives: Sequence[str]) -> dict[str, str | None]:
        return dict.fromkeys(natives)  # no increment is published with the trades: prices decide

    async def trades(self, native: str, symbol: str, since_ms: int) -> AsyncIterator[list[Tick]]:
        market, _, instrument = native.partition(":")
        after = since_ms // 1000
        while True:
            answer = await self.api.get(
                "/spot/v1/historical/trades",
                {"market": market, "instrument": instrument, "after_ts": after, "limit": PAGE},
            )
            if not isinstance(answer, dict) or answer.get("Err") or not isinstance(answer.get("Data"), list):
                error = answer.get("Err") if isinstance(answer, dict) else answer
                raise ApiError(f"CoinDesk Data REST: trades of {native} since {after}: {str(error)[:300]}")
            rows = answer["Data"]
            ticks = []
            for row in rows:
                if not isinstance(row, dict):
                    raise InvalidTick(f"a CoinDesk trade is not an object: {row!r}")
                ticks.append(trade(symbol, row))
            if ticks:
                yield ticks
            if len(rows) < PAGE or not ticks:
                return
            newest = ticks[-1].ts // 1000
            after = newest if newest > after else after + 1

    async def close(self) -> None:
        await self.api.close()
