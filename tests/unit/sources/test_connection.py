"""One websocket's life against a local server: ping frames answered, the venue's own
ping sent, silence and age end the connection with the reason, a refused handshake too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import WSMsgType, web

from candleflow.sources.stream.backoff import Timing
from candleflow.sources.stream.connection import Connection, Ended
from candleflow.sources.stream.events import Alive, Event
from candleflow.sources.stream.protocol import Limits
from tests.fakes import local_server


class Server:
    def __init__(self) -> None:
        self.pongs = 0
        self.received: list[str] = []
        self.silent = False
        self.status = 101
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.status != 101:
            return web.Response(status=self.status, headers={"Retry-After": "1"})
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        if not self.silent:
            await ws.ping(b"are-you-there")
        async for message in ws:
            if message.type == WSMsgType.PONG:
                self.pongs += 1
            elif message.type == WSMsgType.TEXT:
                self.received.append(message.data)
                if message.data == "ping" and not self.silent:
                    await ws.send_str("pong")
        return ws


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    s = Server()
    app = web.Application()
    app.router.add_get("/", s.handle)
    s.runner, port = await local_server.serve(app)
    s.url = f"ws://127.0.0.1:{port}/"
    yield s
    await local_server.stop(s.runner)


class Stub:
    def __init__(self, url: str, ping: str | None = None) -> None:
        self._url, self._ping = url, ping

    def url(self) -> str:
        return self._url

    def headers(self) -> dict[str, str]:
        return {}

    def subscribe(self) -> list[str]:
        return ["subscribe-1", "subscribe-2"]

    def ping(self) -> str | None:
        return self._ping

    def parse(self, data: str | bytes) -> list[Event]:
        return [Alive()]


def limits(**changes: float | None) -> Limits:
    base: dict[str, float | None] = {"silence": 0.6, "ping_interval": None, "max_age": None}
    base.update(changes)
    return Limits(pairs_per_connection=10, messages_per_second=50, connects_per_second=10, **base)  # type: ignore[arg-type]


async def nothing(events: list[Event] | None = None) -> None:
    return None


async def test_ping_frames_are_answered_and_silence_ends_the_connection(server: Server) -> None:
    connection = Connection(Stub(server.url), limits(), Timing())
    with pytest.raises(Ended, match=r"nothing received for 0.6 s") as ended:
        async with asyncio.timeout(10):
            await connection.run(nothing, nothing)
    assert server.pongs == 1, "the ping frame was not answered with a pong"
    assert server.received == ["subscribe-1", "subscribe-2"]
    assert not ended.value.scheduled


async def test_the_venues_own_ping_keeps_a_quiet_connection_and_age_renews_it(server: Server) -> None:
    connection = Connection(Stub(server.url, ping="ping"), limits(ping_interval=0.2, max_age=1.5), Timing())
    with pytest.raises(Ended, match="renewed before the venue cuts it") as ended:
        async with asyncio.timeout(10):
            await connection.run(nothing, nothing)
    assert ended.value.scheduled
    assert server.received.count("ping") >= 3


async def test_a_silent_venue_is_left_even_when_we_ping(server: Server) -> None:
    server.silent = True
    connection = Connection(Stub(server.url, ping="ping"), limits(ping_interval=0.2), Timing())
    with pytest.raises(Ended, match="nothing received"):
        async with asyncio.timeout(10):
            await connection.run(nothing, nothing)


async def test_a_rate_limited_handshake_sets_a_floor(server: Server) -> None:
    server.status = 429
    connection = Connection(Stub(server.url), limits(), Timing(rate_limit_delay=7.0))
    with pytest.raises(Ended, match="HTTP 429") as ended:
        await connection.run(nothing, nothing)
    assert ended.value.floor == 7.0
