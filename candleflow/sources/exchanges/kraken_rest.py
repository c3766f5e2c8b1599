"""Kraken spot REST: asset pairs and trades since a moment, without a key.

From Kraken's spot REST reference (https://docs.kraken.com, "Get Tradable Asset Pairs"
and "Get Recent Trades"): `GET /0/public/AssetPairs?pair=XBTUSD,ETHUSD` lists pairs (keyed
by Kraken's own name, e.g. `XXBTZUSD`, with `altname` `XBTUSD` and `tick_size`; an
unknown pair fails the whole request, so the client then asks one by one);
`GET /0/public/Trades?pair=XBTUSD&since=<seconds>&count=1000` gives trades oldest first as
`[price, volume, time, "b"|"s", "m"|"l", misc, trade_id]` with `last`, the `since` of the
next page. Errors come in the body's `error` list (HTTP 200); a rate-limit error waits
and retries a bounded number of times. The client paces one request a second.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from typing import Any

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import Tick
from candleflow.sources.exchanges import fields
from candleflow.sources.exchanges.http import ApiError, JsonApi

PAGE = 1000
RATE_LIMITED = ("EAPI:Rate limit exceeded", "EGeneral:Too many requests")


class KrakenRest:
    def __init__(self, base_url: str, *, rate: float = 1.0, retries: int = 3) -> None:
        self.api = JsonApi(base_url, rate=rate, name="Kraken REST")
        self.retries = retries

    async def _result(self, path: str, params: dict[str, str | int]) -> Any:
        for _ in range(self.retries + 1):
            answer = await self.api.get(path, params)
            errors = answer.get("error") if isinstance(answer, dict) else None
            if not errors:
                if not isinstance(answer, dict) or not isinstance(answer.get("result"), dict):
                    raise ApiError(f"Kraken REST: {path} answered {str(answer)[:200]}")
                return answer["result"]
            if not any(str(e).startswith(RATE_LIMITED) for e in errors):
                raise ApiError(f"Kraken REST: {path} {params}: {', '.join(map(str, errors))}")
            await self.api.pace.wait()
        raise ApiError(f"Kraken REST: {path} still rate limited after {self.retries + 1} attempts")

    async def tick_sizes(self, natives: Sequence[str]) -> dict[str, str | None]:
        try:
            result = await self._result("/0/public/AssetPairs", {"pair": ",".join(natives)})
        except ApiError as exc:
            if "Unknown asset pair" not in str(exc):
                raise
            if len(natives) == 1:
                return {}
            found: dict[str, str | None] = {}
            for native in natives:
                found.update(await self.tick_sizes([native]))
            return found
        sizes: dict[str, str | None] = {}
        for key, pair in result.items():
            if not isinstance(pair, dict):
                continue
            size = fields.increment(pair.get("tick_size"))
            if size is None and isinstance(pair.get("pair_decimals"), int):
                size = fields.increment(f"1e-{pair['pair_decimals']}")
            for name in (str(pair.get("altname")), key, str(pair.get("wsname", "")).replace("/", "")):
                if name in natives:
                    sizes[name] = size
        return sizes

    async def trades(self, native: str, symbol: str, since_ms: int) -> AsyncIterator[list[Tick]]:
        since: str = f"{since_ms / 1000:.3f}"
        while True:
            result = await self._result("/0/public/Trades", {"pair": native, "since": since, "count": PAGE})
            rows = next((value for key, value in result.items() if key != "last" and isinstance(value, list)), [])
            ticks = [_tick(symbol, row) for row in rows]
            if ticks:
                yield ticks
            last = result.get("last")
            if len(rows) < PAGE or last is None or str(last) == since:
                return
            since = str(last)

    async def close(self) -> None:
        await self.api.close()


def _tick(symbol: str, row: object) -> Tick:
    if not isinstance(row, list) or len(row) < 7:
        raise InvalidTick(f"a Kraken REST trade is not [price, volume, time, side, type, misc, id]: {row!r}")
    seconds = fields.number(row[2], "time")
    side = {"b": "buy", "s": "sell"}.get(row[3], "unknown") if isinstance(row[3], str) else "unknown"
    return fields.tick(
        symbol,
        math.floor(seconds * 1000 + 1e-3),  # truncated to the ms, as the websocket's RFC 3339 time
        fields.number(row[0], "price"),
        fields.number(row[1], "volume"),
        side,
        fields.trade_id(row[6]),
    )
