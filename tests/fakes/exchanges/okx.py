"""OKX v5 public websocket and REST, as okx.com/docs-v5 describes them: `op: subscribe`
acknowledged per argument, error 60018 for an instrument that does not exist, `trades`
pushes, the text `ping` answered `pong`, a connection idle for `idle_s` (30 s at the venue)
closed, `notice` 64008 before a service upgrade; REST instruments (code 51001 when
unknown) and history-trades paged by timestamp (`type=2`, `after` exclusive), newest first."""

from __future__ import annotations

import asyncio
import time

import orjson
from aiohttp import web

from tests.fakes.exchanges.base import FakeExchange, FakeSocket, FakeTrade, json_response


def row(trade: FakeTrade) -> dict[str, object]:
    return {
        "instId": trade.native,
        "tradeId": str(trade.id),
        "px": trade.price,
        "sz": trade.qty,
        "side": trade.side,
        "ts": str(trade.ts),
        "count": "1",
        "source": "0",
    }


class OkxDialect:
    ws_path = "/ws/v5/public"

    def __init__(self, *, idle_s: float = 30.0) -> None:
        self.idle_s = idle_s
        self.pings = 0

    def routes(self, server: FakeExchange) -> list[web.RouteDef]:
        async def instruments(request: web.Request) -> web.Response:
            server.rest(request)
            native = request.query.get("instId", "")
            if native not in server.book.trades or native in server.unknown:
                return json_response({"code": "51001", "msg": "Instrument ID does not exist", "data": []})
            return json_response({"code": "0", "msg": "", "data": [{"instId": native, "tickSz": "0.1"}]})

        async def history(request: web.Request) -> web.Response:
            server.rest(request)
            native = request.query["instId"]
            after = int(request.query.get("after", 2**62))
            limit = min(int(request.query.get("limit", 100)), 100)
            rows = sorted(
                (t for t in server.book.trades.get(native, []) if t.ts < after),
                key=lambda t: (t.ts, t.id),
                reverse=True,
            )
            return json_response({"code": "0", "msg": "", "data": [row(t) for t in rows[:limit]]})

        return [web.get("/api/v5/public/instruments", instruments), web.get("/api/v5/market/history-trades", history)]

    async def opened(self, server: FakeExchange, socket: FakeSocket) -> None:
        async def idle() -> None:
            while not socket.ws.closed:
                await asyncio.sleep(self.idle_s / 4)
                last = socket.received_at[-1] if socket.received_at else socket.opened
                if time.monotonic() - last > self.idle_s:
                    await server.close(socket, f"nothing received for {self.idle_s} s")

        socket.state["idle"] = asyncio.create_task(idle())

    async def message(self, server: FakeExchange, socket: FakeSocket, text: str) -> None:
        if text == "ping":
            self.pings += 1
            await socket.ws.send_str("pong")
            return
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            await socket.ws.send_str('{"event":"error","code":"60012","msg":"Invalid request","connId":"fake"}')
            return
        if request.get("op") != "subscribe":
            await socket.ws.send_str('{"event":"error","code":"60012","msg":"Invalid request","connId":"fake"}')
            return
        for arg in request.get("args", []):
            native = arg.get("instId")
            if arg.get("channel") != "trades" or native not in server.book.trades or native in server.unknown:
                message = f"Wrong URL or channel:{arg.get('channel')},instId:{native} doesn't exist"
                await socket.ws.send_str(
                    orjson.dumps({"event": "error", "code": "60018", "msg": message, "connId": "fake"}).decode()
                )
                continue
            socket.subs.add(native)
            await socket.ws.send_str(orjson.dumps({"event": "subscribe", "arg": arg, "connId": "fake"}).decode())

    def trade_frames(self, server: FakeExchange, trades: list[FakeTrade]) -> list[str]:
        frames = []
        for native in sorted({t.native for t in trades}):
            data = [row(t) for t in trades if t.native == native]
            frames.append(orjson.dumps({"arg": {"channel": "trades", "instId": native}, "data": data}).decode())
        return frames

    async def beat(self, server: FakeExchange, socket: FakeSocket) -> None:
        pass

    async def notice(self, server: FakeExchange) -> None:
        await server.send_raw(
            '{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade.",'
            '"connId":"fake"}'
        )
