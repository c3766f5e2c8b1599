"""Bitstamp websocket v2 and REST, as bitstamp.net/websocket/v2 and bitstamp.net/api
describe them: `bts:subscribe` per channel answered `bts:subscription_succeeded`,
`trade` events with `microtimestamp`, `bts:heartbeat` answered, `bts:request_reconnect`,
`bts:error`; REST markets (`counter_decimals`) and transactions of the last
minute/hour/day, newest first, with times in whole seconds."""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from tests.fakes.exchanges.base import FakeExchange, FakeSocket, FakeTrade, json_response

PREFIX = "live_trades_"
WINDOWS = {"minute": 60, "hour": 3600, "day": 86400}


def event(trade: FakeTrade) -> dict[str, object]:
    data = {
        "id": trade.id,
        "timestamp": str(trade.ts // 1000),
        "amount": float(trade.qty),
        "amount_str": trade.qty,
        "price": float(trade.price),
        "price_str": trade.price,
        "type": 0 if trade.side == "buy" else 1,
        "microtimestamp": str(trade.ts * 1000),
        "buy_order_id": trade.id * 2,
        "sell_order_id": trade.id * 2 + 1,
    }
    return {"data": data, "channel": PREFIX + trade.native, "event": "trade"}


class BitstampDialect:
    ws_path = "/"

    def __init__(self) -> None:
        self.heartbeats = 0

    def routes(self, server: FakeExchange) -> list[web.RouteDef]:
        async def markets(request: web.Request) -> web.Response:
            server.rest(request)
            return json_response(
                [
                    {"market_symbol": n, "name": n.upper(), "counter_decimals": 0, "base_decimals": 8}
                    for n in server.book.trades
                    if n not in server.unknown
                ]
            )

        async def transactions(request: web.Request) -> web.Response:
            server.rest(request)
            native = request.match_info["pair"]
            if native not in server.book.trades:
                return json_response({"status": "error", "reason": "Not found"}, 404)
            window = WINDOWS.get(request.query.get("time", "hour"), 3600)
            since = (time.time() - window) * 1000
            rows = sorted((t for t in server.book.trades[native] if t.ts >= since), key=lambda t: t.id, reverse=True)
            return json_response(
                [
                    {
                        "date": str(t.ts // 1000),
                        "tid": str(t.id),
                        "amount": t.qty,
                        "type": "0" if t.side == "buy" else "1",
                        "price": t.price,
                    }
                    for t in rows
                ]
            )

        return [web.get("/api/v2/markets/", markets), web.get("/api/v2/transactions/{pair}/", transactions)]

    async def opened(self, server: FakeExchange, socket: FakeSocket) -> None:
        pass

    async def message(self, server: FakeExchange, socket: FakeSocket, text: str) -> None:
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            await socket.ws.send_str('{"event":"bts:error","channel":"","data":{"code":null,"message":"Bad JSON."}}')
            return
        kind = request.get("event")
        if kind == "bts:heartbeat":
            self.heartbeats += 1
            await socket.ws.send_str('{"event":"bts:heartbeat","channel":"","data":{"status":"success"}}')
            return
        channel = str((request.get("data") or {}).get("channel", ""))
        native = channel[len(PREFIX) :] if channel.startswith(PREFIX) else ""
        if kind != "bts:subscribe" or native not in server.book.trades or native in server.unknown:
            reply = {
                "event": "bts:error",
                "channel": channel,
                "data": {"code": None, "message": f"Bad subscription string: {channel}."},
            }
            await socket.ws.send_str(orjson.dumps(reply).decode())
            return
        socket.subs.add(native)
        await socket.ws.send_str(
            orjson.dumps({"event": "bts:subscription_succeeded", "channel": channel, "data": {}}).decode()
        )

    def trade_frames(self, server: FakeExchange, trades: list[FakeTrade]) -> list[str]:
        return [orjson.dumps(event(t)).decode() for t in trades]

    async def beat(self, server: FakeExchange, socket: FakeSocket) -> None:
        pass

    async def request_reconnect(self, server: FakeExchange) -> None:
        await server.send_raw('{"event":"bts:request_reconnect","channel":"","data":""}')
