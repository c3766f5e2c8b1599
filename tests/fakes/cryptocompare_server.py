"""A local CryptoCompare: the legacy v2 streamer websocket and the REST history endpoints.

`FakeCryptoCompare` speaks the protocol of `/work/shared/cryptocompare.md` closely
enough to drive the real client: welcome (20), SubAdd -> 16 per channel plus a replay of
the channel's last `replay_last` trades, then 3; SubRemove -> 17 (18 once none is left);
heartbeats (999) every `heartbeat_interval` seconds; 401 for an unknown API key; 429 for
queued refusals or too many subscriptions; 500 INVALID_SUB for unknown exchanges or
malformed channels, INVALID_JSON for garbage; forced disconnects. The REST side serves
`data/v2/histominute|histohour|histoday` with deterministic bars (or the rows a test
sets) in CryptoCompare's answer shape, and scripted faults (`rest_faults`: HTTP 429,
5xx or `{"Response": "Error"}` for chosen requests).

Run it by hand with `python -m tests.fakes.cryptocompare_server --port 8765`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from tests.fakes import local_server

VALID_KEY = "test-key"
UNITS = {"histominute": 60, "histohour": 3600, "histoday": 86400}


def trade_frame(
    exchange: str,
    base: str,
    quote: str,
    *,
    trade_id: str,
    ts_ms: int,
    price: float,
    qty: float,
    flags: int = 2,
    with_tsns: bool = True,
) -> dict[str, Any]:
    """A TYPE 0 frame as the streamer sends it (TS seconds, TSNS nanoseconds)."""
    frame: dict[str, Any] = {
        "TYPE": "0",
        "M": exchange,
        "FSYM": base,
        "TSYM": quote,
        "F": flags,
        "ID": trade_id,
        "TS": ts_ms // 1000,
        "Q": qty,
        "P": price,
        "TOTAL": qty * price,
        "RTS": ts_ms // 1000,
        "CCSEQ": int(trade_id) if trade_id.isdigit() else 0,
    }
    if with_tsns:
        frame["TSNS"] = (ts_ms % 1000) * 1_000_000 + 123
        frame["RTSNS"] = frame["TSNS"]
    return frame


@dataclass
class Socket:
    """One client connection as the fake sees it."""

    ws: web.WebSocketResponse
    subs: set[str] = field(default_factory=set)
    actions: list[dict[str, Any]] = field(default_factory=list)


class FakeCryptoCompare:
    """Start with `await server.start()`; `server.ws_url` / `server.rest_url` to connect."""

    def __init__(
        self,
        *,
        api_keys: frozenset[str] = frozenset({VALID_KEY}),
        exchanges: frozenset[str] = frozenset({"Coinbase", "Kraken", "Binance", "Bitstamp"}),
        heartbeat_interval: float = 30.0,
        replay_last: int = 20,
        max_subs_per_socket: int = 100,
    ) -> None:
        self.api_keys = api_keys
        self.exchanges = exchanges
        self.heartbeat_interval = heartbeat_interval
        self.replay_last = replay_last
        self.max_subs_per_socket = max_subs_per_socket
        self.heartbeats_enabled = True
        #: `time.monotonic()` when the last heartbeat went out (0: none yet).
        self.last_heartbeat_at = 0.0
        self.history: dict[str, deque[dict[str, Any]]] = {}
        self.sockets: list[Socket] = []
        self.refusals: deque[str] = deque()  # 429 MESSAGEs for the next connections
        self.connects = 0
        self.rest_requests: list[dict[str, str]] = []
        self.rest_rows: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
        self.rest_error: str | None = None
        #: n (1-based count of REST requests) -> (HTTP status, JSON body) answered instead
        #: of the history: e.g. {3: (429, {...})} makes the third request a rate limit.
        self.rest_faults: dict[int, tuple[int, dict[str, Any]]] = {}
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._changed = asyncio.Condition()

    # ---------------------------------------------------------------- lifecycle

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_get("/v2", self._stream)
        app.router.add_get("/data/v2/{unit}", self._history)
        self._runner, self._port = await local_server.serve(app, port)

    async def stop(self) -> None:
        await local_server.stop(self._runner, (socket.ws for socket in self.sockets))
        self._runner = None

    async def __aenter__(self) -> FakeCryptoCompare:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/v2"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # ------------------------------------------------------------ test controls

    def add_history(self, frame: dict[str, Any]) -> None:
        channel = f"0~{frame['M']}~{frame['FSYM']}~{frame['TSYM']}"
        self.history.setdefault(channel, deque(maxlen=self.replay_last)).append(frame)

    async def trade(self, frame: dict[str, Any]) -> int:
        """Record a trade and send it to every socket subscribed to its channel."""
        self.add_history(frame)
        channel = f"0~{frame['M']}~{frame['FSYM']}~{frame['TSYM']}"
        sent = 0
        for socket in self.live_sockets():
            if channel in socket.subs:
                await socket.ws.send_bytes(orjson.dumps(frame))
                sent += 1
        return sent

    async def send_raw(self, text: str) -> None:
        for socket in self.live_sockets():
            await socket.ws.send_str(text)

    async def disconnect_all(self, *, force_message: bool = False) -> None:
        """Drop every socket, optionally announcing 500 FORCE_DISCONNECT first."""
        for socket in self.live_sockets():
            if force_message:
                await self._send(socket.ws, {"TYPE": "500", "MESSAGE": "FORCE_DISCONNECT", "INFO": "bye"})
            await socket.ws.close()

    def live_sockets(self) -> list[Socket]:
        return [s for s in self.sockets if not s.ws.closed]

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until `predicate()` holds; it is checked after every connect, (un)subscribe
        and REST request.

        Bound it with `asyncio.timeout` in the test."""
        async with self._changed:
            await self._changed.wait_for(predicate)

    async def wait_rest_requests(self, count: int) -> None:
        """Wait until `count` REST requests arrived (bound it with `asyncio.timeout`)."""
        await self.wait_until(lambda: len(self.rest_requests) >= count)

    def subscribed(self, channel: str, *, connection: int) -> bool:
        """Whether the `connection`-th socket (1-based) has `channel` subscribed."""
        return len(self.sockets) >= connection and channel in self.sockets[connection - 1].subs

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -------------------------------------------------------------- websocket

    @staticmethod
    async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        await ws.send_bytes(orjson.dumps(frame))

    def _key(self, request: web.Request) -> str:
        key = request.query.get("api_key", "")
        header = request.headers.get("Authorization", "")
        if not key and header.lower().startswith("apikey "):
            key = header[7:].strip()
        return key

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        socket = Socket(ws)
        self.sockets.append(socket)
        self.connects += 1
        await self._notify()
        if self._key(request) not in self.api_keys:
            await self._send(
                ws,
                {
                    "TYPE": "401",
                    "MESSAGE": "UNAUTHORIZED",
                    "PARAMETER": "format",
                    "INFO": "We require a valid API key to connect to the streamer.",
                },
            )
            await ws.close()
            return ws
        if self.refusals:
            message = self.refusals.popleft()
            await self._send(ws, {"TYPE": "429", "MESSAGE": message, "INFO": "Rate limited, try later."})
            await ws.close()
            return ws
        await self._send(ws, self._welcome())
        beats = asyncio.create_task(self._heartbeats(ws))
        try:
            async for frame in ws:
                if frame.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._action(socket, frame.data)
                    await self._notify()
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats
        return ws

    def _welcome(self) -> dict[str, Any]:
        active = len(self.live_sockets())
        return {
            "TYPE": "20",
            "MESSAGE": "STREAMERWELCOME",
            "SERVER_UPTIME_SECONDS": 1234,
            "SERVER_NAME": "fake-streamer",
            "SERVER_TIME_MS": int(time.time() * 1000),
            "CLIENT_ID": 1,
            "DATA_FORMAT": "JSON",
            "SOCKET_ID": f"socket-{self.connects}",
            "SOCKETS_ACTIVE": active,
            "SOCKETS_REMAINING": max(0, 1 - active),
            "RATELIMIT_MAX_SECOND": 30,
            "RATELIMIT_MAX_MINUTE": 60,
            "RATELIMIT_MAX_HOUR": 1200,
            "RATELIMIT_MAX_DAY": 10000,
            "RATELIMIT_MAX_MONTH": 20000,
            "RATELIMIT_REMAINING_SECOND": 29,
            "RATELIMIT_REMAINING_MINUTE": 59,
            "RATELIMIT_REMAINING_HOUR": 1199,
            "RATELIMIT_REMAINING_DAY": 9999,
            "RATELIMIT_REMAINING_MONTH": 19999,
        }

    async def _heartbeats(self, ws: web.WebSocketResponse) -> None:
        while not ws.closed:
            await asyncio.sleep(self.heartbeat_interval)
            if self.heartbeats_enabled and not ws.closed:
                self.last_heartbeat_at = time.monotonic()
                with contextlib.suppress(ConnectionError):
                    await self._send(ws, {"TYPE": "999", "MESSAGE": "HEARTBEAT", "TIMEMS": int(time.time() * 1000)})

    def _channel_valid(self, channel: object) -> bool:
        if not isinstance(channel, str):
            return False
        parts = channel.split("~")
        return len(parts) == 4 and parts[0] == "0" and parts[1] in self.exchanges and all(parts[2:])

    async def _action(self, socket: Socket, data: str | bytes) -> None:
        ws = socket.ws
        try:
            action = orjson.loads(data)
            if not isinstance(action, dict):
                raise ValueError(data)
        except ValueError:
            await self._send(ws, {"TYPE": "500", "MESSAGE": "INVALID_JSON", "PARAMETER": str(data)[:100]})
            return
        socket.actions.append(action)
        subs: list[Any] = action["subs"] if isinstance(action.get("subs"), list) else []
        if action.get("action") == "SubAdd":
            for channel in subs:
                await self._subscribe(socket, channel)
            await self._send(
                ws, {"TYPE": "3", "MESSAGE": "LOADCOMPLETE", "INFO": "All your valid subs have been loaded."}
            )
        elif action.get("action") == "SubRemove":
            for channel in subs:
                if channel in socket.subs:
                    socket.subs.discard(channel)
                    await self._send(ws, {"TYPE": "17", "MESSAGE": "UNSUBSCRIBECOMPLETE", "SUB": channel})
                else:
                    await self._send(ws, {"TYPE": "500", "MESSAGE": "SUBSCRIPTION_UNRECOGNIZED", "PARAMETER": channel})
            if not socket.subs:
                await self._send(ws, {"TYPE": "18", "MESSAGE": "UNSUBSCRIBEALLCOMPLETE", "INFO": "Removed all subs"})
        else:
            await self._send(ws, {"TYPE": "500", "MESSAGE": "INVALID_PARAMETER", "PARAMETER": "action"})

    async def _subscribe(self, socket: Socket, channel: object) -> None:
        ws = socket.ws
        if not self._channel_valid(channel):
            await self._send(
                ws,
                {
                    "TYPE": "500",
                    "MESSAGE": "INVALID_SUB",
                    "PARAMETER": str(channel),
                    "INFO": "We only support the market trade channel on known exchanges here.",
                },
            )
            return
        assert isinstance(channel, str)
        if channel in socket.subs:
            await self._send(ws, {"TYPE": "500", "MESSAGE": "SUBSCRIPTION_ALREADY_ACTIVE", "PARAMETER": channel})
            return
        if len(socket.subs) >= self.max_subs_per_socket:
            await self._send(
                ws,
                {
                    "TYPE": "429",
                    "MESSAGE": f"TOO_MANY_SUBSCRIPTIONS_MAX_{self.max_subs_per_socket}_PER_SOCKET",
                    "PARAMETER": channel,
                    "INFO": "Upgrade your plan for more subscriptions.",
                },
            )
            return
        socket.subs.add(channel)
        await self._send(ws, {"TYPE": "16", "MESSAGE": "SUBSCRIBECOMPLETE", "SUB": channel})
        for frame in list(self.history.get(channel, ())):
            await self._send(ws, frame)

    # ------------------------------------------------------------------- REST

    async def _history(self, request: web.Request) -> web.Response:
        unit = request.match_info["unit"]
        query = dict(request.query)
        self.rest_requests.append({"unit": unit, **query})
        await self._notify()
        fault = self.rest_faults.get(len(self.rest_requests))
        if fault is not None:
            return web.json_response(fault[1], status=fault[0])
        if unit not in UNITS:
            return web.json_response({"Response": "Error", "Message": f"Unknown endpoint {unit}"}, status=404)
        if self.rest_error is not None:
            return web.json_response({"Response": "Error", "Message": self.rest_error, "Type": 99})
        if query.get("api_key", "") not in self.api_keys and not request.headers.get("Authorization"):
            return web.json_response(
                {"Response": "Error", "Message": "You need a valid auth key or api key to access this endpoint"}
            )
        fsym, tsym = query.get("fsym", ""), query.get("tsym", "")
        if not fsym or not tsym:
            return web.json_response({"Response": "Error", "Message": "fsym param is empty or null."})
        try:
            limit = int(query.get("limit", "30"))
            aggregate = int(query.get("aggregate", "1"))
            to_ts = int(query.get("toTs", str(int(time.time()))))
        except ValueError:
            return web.json_response({"Response": "Error", "Message": "limit, aggregate and toTs must be integers"})
        if not 1 <= limit <= 2000:
            return web.json_response({"Response": "Error", "Message": "limit param is not valid (1-2000)."})
        exchange = query.get("e", "CCCAGG")
        step = UNITS[unit] * max(1, aggregate)
        rows = self.rest_rows.get((exchange, fsym, tsym, unit))
        if rows is not None:
            data = [r for r in rows if r["time"] <= to_ts][-(limit + 1) :]
        else:
            last = to_ts - to_ts % step
            data = [_bar(last - i * step, fsym) for i in range(limit, -1, -1)]
        return web.json_response(
            {
                "Response": "Success",
                "Message": "",
                "HasWarning": False,
                "Type": 100,
                "RateLimit": {},
                "Data": {
                    "Aggregated": aggregate > 1,
                    "TimeFrom": data[0]["time"] if data else to_ts,
                    "TimeTo": data[-1]["time"] if data else to_ts,
                    "Data": data,
                },
            }
        )


def _bar(start: int, fsym: str) -> dict[str, Any]:
    """A deterministic OHLCV row for `start` (a smooth wave around a per-symbol level)."""
    level = 100.0 + (sum(map(ord, fsym)) % 50) * 10
    open_ = round(level * (1 + 0.01 * math.sin(start / 7200)), 2)
    close = round(level * (1 + 0.01 * math.sin((start + 60) / 7200)), 2)
    high, low = max(open_, close) + 0.5, min(open_, close) - 0.5
    volume = 1 + (start // 60) % 17
    return {
        "time": start,
        "high": high,
        "low": low,
        "open": open_,
        "volumefrom": float(volume),
        "volumeto": round(volume * close, 2),
        "close": close,
        "conversionType": "direct",
        "conversionSymbol": "",
    }


async def _serve(port: int, heartbeat: float) -> None:
    server = FakeCryptoCompare(heartbeat_interval=heartbeat)
    await server.start(port)
    print(f"fake CryptoCompare on {server.ws_url} and {server.rest_url} (API key {VALID_KEY!r})")
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--heartbeat", type=float, default=30.0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.heartbeat))


if __name__ == "__main__":
    main()
