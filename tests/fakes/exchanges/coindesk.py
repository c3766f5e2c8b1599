"""The CoinDesk Data streamer and REST trades as far as their public material goes: the
key in `api_key` (4011 and a close for a wrong one), 4000 welcome, `SUBSCRIBE` per
market answered 4005 (4006 for an unknown instrument), trades with the REST trade's
fields, 4013 heartbeats; REST `/spot/v1/historical/trades` by `after_ts`."""

from __future__ import annotations

import orjson
from aiohttp import web

from tests.fakes.exchanges.base import FakeExchange, FakeSocket, FakeTrade, json_response

KEY = "cd-test-key"
#: The trade message TYPE this fake uses (the public material leaves it open).
TRADE_TYPE = "952"


def fields(trade: FakeTrade) -> dict[str, object]:
    market, _, instrument = trade.native.partition(":")
    base, _, quote = instrument.partition("-")
    return {
        "MARKET": market,
        "INSTRUMENT": instrument,
        "MAPPED_INSTRUMENT": instrument,
        "BASE": base,
        "QUOTE": quote,
        "SIDE": trade.side.upper(),
        "ID": str(trade.id),
        "TIMESTAMP": trade.ts // 1000,
        "TIMESTAMP_NS": (trade.ts % 1000) * 1_000_000,
        "QUANTITY": float(trade.qty),
        "PRICE": float(trade.price),
        "CCSEQ": trade.id,
    }


class CoinDeskDialect:
    ws_path = "/"

    def routes(self, server: FakeExchange) -> list[web.RouteDef]:
        async def trades(request: web.Request) -> web.Response:
            server.rest(request)
            if request.headers.get("Authorization") != f"Apikey {KEY}":
                return json_response({"Data": [], "Err": {"type": 1, "message": "invalid key"}}, 401)
            native = f"{request.query['market']}:{request.query['instrument']}"
            after = int(request.query.get("after_ts", 0)) * 1000
            limit = int(request.query.get("limit", 100))
            rows = [fields(t) for t in server.book.trades.get(native, []) if t.ts >= after][:limit]
            return json_response({"Data": rows, "Err": {}})

        return [web.get("/spot/v1/historical/trades", trades)]

    async def opened(self, server: FakeExchange, socket: FakeSocket) -> None:
        if socket.request.query.get("api_key") != KEY:
            await socket.ws.send_str('{"TYPE":"4011","MESSAGE":"INVALID_API_KEY"}')
            await server.close(socket, "invalid key")
            return
        await socket.ws.send_str('{"TYPE":"4000","MESSAGE":"SESSION_WELCOME"}')

    async def message(self, server: FakeExchange, socket: FakeSocket, text: str) -> None:
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            await socket.ws.send_str('{"TYPE":"4012","MESSAGE":"INVALID_MESSAGE"}')
            return
        market = request.get("market")
        for instrument in request.get("instruments", []):
            native = f"{market}:{instrument}"
            if request.get("action") != "SUBSCRIBE" or native not in server.book.trades or native in server.unknown:
                await socket.ws.send_str(
                    orjson.dumps(
                        {"TYPE": "4006", "MESSAGE": "SUBSCRIPTION_REJECTED", "INFO": f"{market} {instrument}"}
                    ).decode()
                )
                continue
            socket.subs.add(native)
            await socket.ws.send_str(
                orjson.dumps(
                    {"TYPE": "4005", "MESSAGE": "SUBSCRIPTION_ACCEPTED", "INFO": f"{market} {instrument}"}
                ).decode()
            )

    def trade_frames(self, server: FakeExchange, trades: list[FakeTrade]) -> list[str]:
        return [orjson.dumps({"TYPE": TRADE_TYPE, **fields(t)}).decode() for t in trades]

    async def beat(self, server: FakeExchange, socket: FakeSocket) -> None:
        await socket.ws.send_str('{"TYPE":"4013","MESSAGE":"HEARTBEAT"}')
