"""Kraken spot websocket v2 and REST, as docs.kraken.com describes them: a `status` message
on connect, `trade` subscriptions acknowledged per symbol (an error naming the symbol for
an unknown pair), a snapshot of the last trades on every subscribe, `heartbeat` every
beat, `ping` -> `pong`; REST AssetPairs (XBT names, `EQuery:Unknown asset pair`) and
Trades with `since` and `last`."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from aiohttp import web

from tests.fakes.exchanges.base import FakeExchange, FakeSocket, FakeTrade, json_response

SNAPSHOT = 50
#: websocket spelling -> REST spelling
REST_NAMES = {"BTC/USD": "XBTUSD", "ETH/USD": "ETHUSD", "DOGE/USD": "XDGUSD"}
KEYS = {"XBTUSD": "XXBTZUSD", "ETHUSD": "XETHZUSD", "XDGUSD": "XDGUSD"}


def rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}000Z"


def row(trade: FakeTrade) -> dict[str, object]:
    return {
        "symbol": trade.native,
        "side": trade.side,
        "price": float(trade.price),
        "qty": float(trade.qty),
        "ord_type": "market",
        "trade_id": trade.id,
        "timestamp": rfc3339(trade.ts),
    }


class KrakenDialect:
    ws_path = "/v2"

    def routes(self, server: FakeExchange) -> list[web.RouteDef]:
        by_rest = {REST_NAMES[n]: n for n in server.book.trades}

        async def pairs(request: web.Request) -> web.Response:
            server.rest(request)
            names = request.query.get("pair", "").split(",")
            if any(n not in by_rest or by_rest[n] in server.unknown for n in names):
                return json_response({"error": ["EQuery:Unknown asset pair"]})
            result = {
                KEYS[n]: {
                    "altname": n,
                    "wsname": by_rest[n].replace("BTC", "XBT"),
                    "tick_size": "0.1",
                    "pair_decimals": 1,
                }
                for n in names
            }
            return json_response({"error": [], "result": result})

        async def trades(request: web.Request) -> web.Response:
            server.rest(request)
            name = request.query["pair"]
            if name not in by_rest:
                return json_response({"error": ["EQuery:Unknown asset pair"]})
            since = float(request.query.get("since", 0))
            count = min(int(request.query.get("count", 1000)), 1000)
            book = server.book.trades[by_rest[name]]
            if since > 1e14:  # a `last` id: nanoseconds, exclusive
                chosen = [t for t in book if t.ts * 1_000_000 > since]
            else:
                chosen = [t for t in book if t.ts >= since * 1000]
            chosen = chosen[:count]
            last = str(chosen[-1].ts * 1_000_000) if chosen else str(int(since * 1e9) if since < 1e14 else int(since))
            rows = [[t.price, t.qty, t.ts / 1000, t.side[0], "m", "", t.id] for t in chosen]
            return json_response({"error": [], "result": {KEYS[name]: rows, "last": last}})

        return [web.get("/0/public/AssetPairs", pairs), web.get("/0/public/Trades", trades)]

    async def opened(self, server: FakeExchange, socket: FakeSocket) -> None:
        status = {"api_version": "v2", "connection_id": 1, "system": "online", "version": "2.0.0"}
        await socket.ws.send_str(orjson.dumps({"channel": "status", "type": "update", "data": [status]}).decode())

    async def message(self, server: FakeExchange, socket: FakeSocket, text: str) -> None:
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            await socket.ws.send_str('{"error":"Malformed request","method":"error","success":false}')
            return
        method = request.get("method")
        if method == "ping":
            await socket.ws.send_str(orjson.dumps({"method": "pong", "req_id": request.get("req_id")}).decode())
            return
        params = request.get("params") or {}
        if method != "subscribe" or params.get("channel") != "trade":
            await socket.ws.send_str(
                orjson.dumps({"error": "Unsupported", "method": method, "success": False}).decode()
            )
            return
        for symbol in params.get("symbol", []):
            if symbol not in server.book.trades or symbol in server.unknown:
                reply = {
                    "error": f"Currency pair not supported {symbol}",
                    "method": "subscribe",
                    "success": False,
                    "symbol": symbol,
                    "req_id": request.get("req_id"),
                }
                await socket.ws.send_str(orjson.dumps(reply).decode())
                continue
            socket.subs.add(symbol)
            result = {"channel": "trade", "snapshot": True, "symbol": symbol}
            await socket.ws.send_str(
                orjson.dumps(
                    {"method": "subscribe", "result": result, "success": True, "req_id": request.get("req_id")}
                ).decode()
            )
            recent = [row(t) for t in server.book.trades[symbol][-SNAPSHOT:]]
            await socket.ws.send_str(orjson.dumps({"channel": "trade", "type": "snapshot", "data": recent}).decode())

    def trade_frames(self, server: FakeExchange, trades: list[FakeTrade]) -> list[str]:
        return [orjson.dumps({"channel": "trade", "type": "update", "data": [row(t) for t in trades]}).decode()]

    async def beat(self, server: FakeExchange, socket: FakeSocket) -> None:
        if socket.subs:
            await socket.ws.send_str('{"channel":"heartbeat"}')
