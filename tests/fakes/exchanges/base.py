"""The venue-independent half of a fake exchange: a book of trades per pair, the sockets
and their subscriptions, a beat loop for heartbeats and pings, and the test controls
(make trades now, drop every socket, send raw frames, refuse a pair)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from tests.fakes import local_server


@dataclass(frozen=True)
class FakeTrade:
    """One trade as the fake market made it; `side` is the taker's."""

    native: str
    id: int
    ts: int
    price: str
    qty: str
    side: str


@dataclass
class FakeSocket:
    ws: web.WebSocketResponse
    request: web.Request
    subs: set[str] = field(default_factory=set)
    received: list[str] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)
    pongs: int = 0
    opened: float = field(default_factory=time.monotonic)
    state: dict[str, Any] = field(default_factory=dict)


class Dialect(Protocol):
    """What a venue module gives the fake: its paths, its frames, its REST routes."""

    ws_path: str

    def routes(self, server: FakeExchange) -> list[web.RouteDef]: ...

    async def opened(self, server: FakeExchange, socket: FakeSocket) -> None: ...

    async def message(self, server: FakeExchange, socket: FakeSocket, text: str) -> None: ...

    def trade_frames(self, server: FakeExchange, trades: list[FakeTrade]) -> list[str]: ...

    async def beat(self, server: FakeExchange, socket: FakeSocket) -> None: ...


class Book:
    """Deterministic trades per pair: ids count up from `first_id`, prices walk from `start`."""

    def __init__(self, natives: dict[str, float], *, decimals: int = 2, seed: int = 7, first_id: int = 1000) -> None:
        self.trades: dict[str, list[FakeTrade]] = {native: [] for native in natives}
        self.prices = dict(natives)
        self.decimals = decimals
        self.rng = random.Random(seed)
        self.next_id = dict.fromkeys(natives, first_id)

    def make(self, native: str, ts: int) -> FakeTrade:
        self.prices[native] *= 1 + self.rng.uniform(-0.0005, 0.0005)
        trade = FakeTrade(
            native,
            self.next_id[native],
            ts,
            f"{self.prices[native]:.{self.decimals}f}",
            f"{self.rng.uniform(0.001, 2.0):.6f}",
            self.rng.choice(("buy", "sell")),
        )
        self.next_id[native] += 1
        self.trades[native].append(trade)
        return trade

    def history(self, native: str, count: int, *, start_ms: int, end_ms: int, whole_seconds: bool = False) -> None:
        """`count` past trades spread evenly over [start_ms, end_ms)."""
        step = (end_ms - start_ms) / max(count, 1)
        for i in range(count):
            ts = int(start_ms + i * step)
            self.make(native, ts - ts % 1000 if whole_seconds else ts)

    def since(self, native: str, ms: int) -> list[FakeTrade]:
        return [t for t in self.trades.get(native, []) if t.ts >= ms]


class FakeExchange:
    def __init__(
        self, dialect: Dialect, book: Book, *, beat_interval: float = 0.5, whole_seconds: bool = False
    ) -> None:
        self.dialect = dialect
        self.book = book
        self.beat_interval = beat_interval
        self.whole_seconds = whole_seconds
        self.sockets: list[FakeSocket] = []
        self.connects = 0
        self.rest_requests: list[str] = []
        self.closed_for: list[str] = []
        #: pairs the venue does not list (REST) or refuses (websocket)
        self.unknown: set[str] = set()
        self.beats = True
        self._runner: web.AppRunner | None = None
        self._beater: asyncio.Task[None] | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(self.dialect.ws_path, self._socket)
        app.add_routes(self.dialect.routes(self))
        self._runner, self.port = await local_server.serve(app)
        self._beater = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        if self._beater is not None:
            self._beater.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beater
        await local_server.stop(self._runner, (socket.ws for socket in self.sockets))
        self._runner = None

    async def __aenter__(self) -> FakeExchange:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.base}{self.dialect.ws_path}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.base}"

    # ------------------------------------------------------------ controls

    def live(self) -> list[FakeSocket]:
        return [s for s in self.sockets if not s.ws.closed]

    def subscribed(self, native: str) -> bool:
        return any(native in s.subs for s in self.live())

    async def trade(self, native: str, count: int = 1) -> list[FakeTrade]:
        """Make `count` trades of `native` now and send them to its subscribers."""
        now = int(time.time() * 1000)
        if self.whole_seconds:
            now -= now % 1000
        trades = [self.book.make(native, now) for _ in range(count)]
        await self.push(trades)
        return trades

    async def push(self, trades: list[FakeTrade]) -> None:
        for socket in self.live():
            mine = [t for t in trades if t.native in socket.subs]
            if not mine:
                continue
            for frame in self.dialect.trade_frames(self, mine):
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await socket.ws.send_str(frame)

    async def send_raw(self, text: str) -> None:
        for socket in self.live():
            with contextlib.suppress(ConnectionError, RuntimeError):
                await socket.ws.send_str(text)

    async def disconnect_all(self) -> None:
        for socket in self.live():
            await socket.ws.close()

    async def close(self, socket: FakeSocket, why: str) -> None:
        """Close one socket the way the venue would, remembering why."""
        self.closed_for.append(why)
        await socket.ws.close()

    async def wait(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110 (a fake's state has no condition to wait on)
                await asyncio.sleep(0.02)

    def rest(self, request: web.Request) -> None:
        self.rest_requests.append(request.path_qs)

    # ----------------------------------------------------------- internals

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        socket = FakeSocket(ws, request)
        self.sockets.append(socket)
        self.connects += 1
        await self.dialect.opened(self, socket)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                socket.received.append(message.data)
                socket.received_at.append(time.monotonic())
                await self.dialect.message(self, socket, message.data)
            elif message.type == WSMsgType.PING:
                await ws.pong(message.data)
            elif message.type == WSMsgType.PONG:
                socket.pongs += 1
                socket.received_at.append(time.monotonic())
        return ws

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.beat_interval)
            if not self.beats:
                continue
            for socket in self.live():
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await self.dialect.beat(self, socket)


def json_response(body: Any, status: int = 200) -> web.Response:
    import orjson

    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")
