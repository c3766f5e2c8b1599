"""Binance spot, as web-socket-streams.md and rest-api.md of binance-spot-api-docs describe it:
raw streams at `/ws` with SUBSCRIBE/`{"result": null, "id"}`, `@trade` events, ping frames
the client must answer, more than 5 incoming messages a second closes the connection,
`serverShutdown`; REST exchangeInfo (-1121 for an unknown symbol), aggTrades by startTime
and historicalTrades by fromId."""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from tests.fakes.exchanges.base import FakeExchange, FakeSocket, FakeTrade, json_response

MAX_INCOMING_PER_S = 5


def trade_event(trade: FakeTrade) -> dict[str, object]:
    return {
        "e": "trade",
        "E": trade.ts + 3,
        "s": trade.native.upper(),
        "t": trade.id,
        "p": trade.price,
        "q": trade.qty,
        "T": trade.ts,
        "m": trade.side == "sell",
        "M": True,
    }


class BinanceDialect:
    ws_path = "/ws"

    def __init__(self, *, tick_size: str = "0.01000000") -> None:
        self.tick_size = tick_size
        self.pings_sent = 0

    def routes(self, server: FakeExchange) -> list[web.RouteDef]:
        async def exchange_info(request: web.Request) -> web.Response:
            server.rest(request)
            names = orjson.loads(request.query.get("symbols", "[]"))
            if any(n.lower() not in server.book.trades or n.lower() in server.unknown for n in names):
                return json_response({"code": -1121, "msg": "Invalid symbol."}, 400)
            return json_response(
                {
                    "timezone": "UTC",
                    "symbols": [
                        {"symbol": n, "filters": [{"filterType": "PRICE_FILTER", "tickSize": self.tick_size}]}
                        for n in names
                    ],
                }
            )

        async def agg_trades(request: web.Request) -> web.Response:
            server.rest(request)
            trades = server.book.since(request.query["symbol"].lower(), int(request.query["startTime"]))
            limit = int(request.query.get("limit", 500))
            return json_response(
                [
                    {
                        "a": t.id,
                        "p": t.price,
                        "q": t.qty,
                        "f": t.id,
                        "l": t.id,
                        "T": t.ts,
                        "m": t.side == "sell",
                        "M": True,
                    }
                    for t in trades[:limit]
                ]
            )

        async def historical(request: web.Request) -> web.Response:
            server.rest(request)
            native = request.query["symbol"].lower()
            start = int(request.query["fromId"])
            limit = min(int(request.query.get("limit", 500)), 1000)
            trades = [t for t in server.book.trades.get(native, []) if t.id >= start][:limit]
            return json_response(
                [
                    {
                        "id": t.id,
                        "price": t.price,
                        "qty": t.qty,
                        "quoteQty": "0",
                        "time": t.ts,
                        "isBuyerMaker": t.side == "sell",
                        "isBestMatch": True,
                    }
                    for t in trades
                ]
            )

        return [
            web.get("/api/v3/exchangeInfo", exchange_info),
            web.get("/api/v3/aggTrades", agg_trades),
            web.get("/api/v3/historicalTrades", historical),
        ]

    async def opened(self, server: FakeExchange, socket: FakeSocket) -> None:
        pass

    async def message(self, server: FakeExchange, socket: FakeSocket, text: str) -> None:
        recent = [t for t in socket.received_at if t > time.monotonic() - 1.0]
        if len(recent) > MAX_INCOMING_PER_S:
            await server.close(socket, "more than 5 incoming messages in a second")
            return
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            await socket.ws.send_str('{"code":3,"msg":"Invalid JSON: expected value at line 1 column 1"}')
            return
        if request.get("method") == "SUBSCRIBE":
            for stream in request.get("params", []):
                native, _, kind = str(stream).partition("@")
                if kind == "trade" and native in server.book.trades and native not in server.unknown:
                    socket.subs.add(native)
            await socket.ws.send_str(orjson.dumps({"result": None, "id": request.get("id")}).decode())
        else:
            await socket.ws.send_str(
                orjson.dumps({"code": 2, "msg": "Invalid request", "id": request.get("id")}).decode()
            )

    def trade_frames(self, server: FakeExchange, trades: list[FakeTrade]) -> list[str]:
        return [orjson.dumps(trade_event(t)).decode() for t in trades]

    async def beat(self, server: FakeExchange, socket: FakeSocket) -> None:
        self.pings_sent += 1
        await socket.ws.ping(b"fake-binance")

    async def shutdown(self, server: FakeExchange) -> None:
        await server.send_raw(orjson.dumps({"e": "serverShutdown", "E": int(time.time() * 1000)}).decode())
