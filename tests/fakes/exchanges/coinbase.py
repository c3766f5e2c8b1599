"""Coinbase Advanced Trade market data, as docs.cdp.coinbase.com describes it: one channel
per subscribe message within 5 s of connecting (else the socket closes), a
`subscriptions` confirmation, a snapshot of recent `market_trades` on every subscribe,
updates batched in `events`, `heartbeats` every beat with a counter, `{"type": "error"}`
for an unknown product; REST market products (price_increment, 404 when unknown) and
public trades between unix times, newest first."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import orjson
from aiohttp import web

from tests.fakes.exchanges.base import FakeExchange, FakeSocket, FakeTrade, json_response

SNAPSHOT = 50
SUBSCRIBE_WITHIN_S = 5.0


def rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def trade_row(trade: FakeTrade) -> dict[str, object]:
    return {
        "trade_id": str(trade.id),
        "product_id": trade.native,
        "price": trade.price,
        "size": trade.qty,
        "side": trade.side.upper(),
        "time": rfc3339(trade.ts),
    }


class CoinbaseDialect:
    ws_path = "/"

    def __init__(self) -> None:
        self.sequence = 0
        self.counter = 0

    def envelope(self, channel: str, events: list[dict[str, object]]) -> str:
        self.sequence += 1
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return orjson.dumps(
            {"channel": channel, "client_id": "", "timestamp": now, "sequence_num": self.sequence, "events": events}
        ).decode()

    def routes(self, server: FakeExchange) -> list[web.RouteDef]:
        async def product(request: web.Request) -> web.Response:
            server.rest(request)
            native = request.match_info["product"]
            if native not in server.book.trades or native in server.unknown:
                return json_response({"error": "NOT_FOUND", "message": "product not found"}, 404)
            return json_response({"product_id": native, "price_increment": "0.01", "quote_increment": "0.01"})

        async def ticker(request: web.Request) -> web.Response:
            server.rest(request)
            native = request.match_info["product"]
            start = int(request.query.get("start", 0)) * 1000
            end = int(request.query.get("end", 2**40)) * 1000
            limit = int(request.query["limit"])
            rows = [t for t in server.book.trades.get(native, []) if start <= t.ts < end]
            rows.sort(key=lambda t: (t.ts, t.id), reverse=True)
            return json_response({"trades": [trade_row(t) for t in rows[:limit]], "best_bid": "1", "best_ask": "2"})

        return [
            web.get("/api/v3/brokerage/market/products/{product}", product),
            web.get("/api/v3/brokerage/market/products/{product}/ticker", ticker),
        ]

    async def opened(self, server: FakeExchange, socket: FakeSocket) -> None:
        async def deadline() -> None:
            await asyncio.sleep(SUBSCRIBE_WITHIN_S)
            if not socket.subs and not socket.ws.closed:
                await server.close(socket, "no subscribe within 5 s")

        socket.state["deadline"] = asyncio.create_task(deadline())

    async def message(self, server: FakeExchange, socket: FakeSocket, text: str) -> None:
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            await socket.ws.send_str(orjson.dumps({"type": "error", "message": "malformed JSON"}).decode())
            return
        channel = request.get("channel")
        products = request.get("product_ids") or []
        if request.get("type") != "subscribe" or channel not in ("market_trades", "heartbeats"):
            await socket.ws.send_str(orjson.dumps({"type": "error", "message": f"bad request {text[:80]}"}).decode())
            return
        bad = [p for p in products if p not in server.book.trades or p in server.unknown]
        for product in bad:
            await socket.ws.send_str(
                orjson.dumps(
                    {"type": "error", "message": f"Failed to subscribe: invalid product_id {product}"}
                ).decode()
            )
        good = [p for p in products if p not in bad]
        channels = socket.state.setdefault("channels", {})
        channels.setdefault(channel, set()).update(good)
        if channel == "market_trades":
            socket.subs.update(good)
            rows = [trade_row(t) for p in good for t in reversed(server.book.trades[p][-SNAPSHOT:])]
            await socket.ws.send_str(self.envelope("market_trades", [{"type": "snapshot", "trades": rows}]))
        socket.state["heartbeats"] = "heartbeats" in channels
        await socket.ws.send_str(
            self.envelope("subscriptions", [{"subscriptions": {k: sorted(v) for k, v in channels.items()}}])
        )

    def trade_frames(self, server: FakeExchange, trades: list[FakeTrade]) -> list[str]:
        rows = [trade_row(t) for t in reversed(trades)]  # newest first, as the venue batches them
        return [self.envelope("market_trades", [{"type": "update", "trades": rows}])]

    async def beat(self, server: FakeExchange, socket: FakeSocket) -> None:
        if socket.state.get("heartbeats"):
            self.counter += 1
            now = time.strftime("%Y-%m-%d %H:%M:%S.000000000 +0000 UTC", time.gmtime())
            await socket.ws.send_str(
                self.envelope("heartbeats", [{"current_time": now, "heartbeat_counter": self.counter}])
            )
