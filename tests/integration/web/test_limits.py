"""Limits with clear answers, served in-process against the real PostgreSQL and Kafka:
the request rate per client (429 with `Retry-After`), streams and subscriptions per
client below the process's cap (one address cannot lock the others out: the second
client connects from 127.0.0.2), idle streams and streams whose token expired closed,
a client that leaves too many bytes unread dropped, half-open connections (slowloris)
closed, database reads past the cap answered 503 at once, and a flood of bad requests
leaving a handful of log lines."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from candleflow.access.tokens import issue
from candleflow.core.metrics import REGISTRY
from candleflow.core.settings import Settings
from candleflow.stack import StackInfo
from tests.harness import Names
from tests.harness.sse import OTHER, SYMBOL, T, produce, reading, stream, stream_id, streams, two_series, update
from tests.harness.waiting import eventually
from tests.harness.web import Served, serving, serving_live

pytestmark = pytest.mark.integration

SECRET = "an access-token secret of at least thirty-two bytes"
HISTORY = {"symbol": SYMBOL, "resolution": "1", "from": str(T - 60), "to": str(T + 60)}


def session_from(address: str = "127.0.0.1") -> aiohttp.ClientSession:
    """A client whose connections come from `address` (any of 127.0.0.0/8 reaches the server)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0), limit=0))


def rejected(kind: str) -> float:
    return REGISTRY.get_sample_value("candleflow_http_rejected_total", {"kind": kind}) or 0.0


@contextlib.asynccontextmanager
async def live(stack: StackInfo, database_url: str, names: Names, **settings: object) -> AsyncIterator[Served]:
    await two_series(stack, database_url, names)
    env = names.env(stack, database_url, sse_heartbeat=1, **settings)
    async with serving_live(Settings.from_env(env)) as (served, _):
        yield served


async def test_a_client_past_its_rate_gets_429_and_another_does_not(
    stack: StackInfo, database_url: str, names: Names
) -> None:
    async with (
        live(stack, database_url, names, rate_limit=2, rate_burst=5) as server,
        session_from("127.0.0.1") as greedy,
        session_from("127.0.0.2") as polite,
    ):
        statuses = []
        for _ in range(8):
            async with greedy.get(f"{server.url}/udf/history", params=HISTORY) as response:
                statuses.append(response.status)
                if response.status == 429:
                    retry_after, body = response.headers["Retry-After"], await response.json()
        assert statuses[:5] == [200] * 5 and 429 in statuses[5:], statuses
        assert int(retry_after) >= 1
        assert body == {"s": "error", "errmsg": "too many requests, slow down"}
        async with polite.get(f"{server.url}/udf/history", params=HISTORY) as response:
            assert response.status == 200


async def test_one_address_cannot_take_every_stream(stack: StackInfo, database_url: str, names: Names) -> None:
    limits = {"sse_max_clients": 6, "sse_max_per_client": 2, "sse_max_subs_per_client": 3}
    async with (
        live(stack, database_url, names, **limits) as server,
        session_from("127.0.0.1") as greedy,
        session_from("127.0.0.2") as other,
    ):
        async with contextlib.AsyncExitStack() as held:
            kept = [await held.enter_async_context(stream(greedy, server.url, SYMBOL, "1")) for _ in range(2)]
            assert [response.status for response, _ in kept] == [200, 200]
            for _ in range(5):
                async with stream(greedy, server.url, SYMBOL, "5") as (response, _):
                    assert response.status == 429
                    assert "too many streams open for this client (limit 2)" in (await response.json())["errmsg"]
            subs = [f"{SYMBOL}|1", f"{OTHER}|1"]
            response, reader = await held.enter_async_context(streams(other, server.url, subs))
            assert response.status == 200
            await reader.wait_for(lambda r: any(e.kind == "hello" for e in r.events))
            change = f"{server.url}/udf/streams/{stream_id(reader)}"
            async with other.post(f"{change}/subscribe", params={"sub": f"{SYMBOL}|5"}) as answer:
                assert answer.status == 200
            async with other.post(f"{change}/subscribe", params={"sub": f"{OTHER}|5"}) as answer:
                assert answer.status == 429
                assert "too many subscriptions for this client (limit 3" in (await answer.json())["errmsg"]
            async with other.post(f"{change}/unsubscribe", params={"sub": f"{SYMBOL}|5"}) as answer:
                assert answer.status == 200
            async with other.post(f"{change}/subscribe", params={"sub": f"{OTHER}|5"}) as answer:
                assert answer.status == 200  # given back by the unsubscribe
            await kept[0][1].wait_for(lambda r: bool(r.bars()))
        hub = server.context.runtime.hub()
        await eventually(lambda: hub.clients == 0, 30, what="the streams closed")
        assert len(server.context.limits.streams) == len(server.context.limits.subscriptions) == 0
        async with stream(greedy, server.url, SYMBOL, "1") as (response, _):
            assert response.status == 200  # closed streams gave their places back


async def test_idle_streams_are_closed_and_held_ones_are_not(stack: StackInfo, database_url: str, names: Names) -> None:
    async with (
        live(stack, database_url, names, sse_idle=1) as server,
        session_from() as session,
        streams(session, server.url, []) as (_, empty),
        streams(session, server.url, [f"{SYMBOL}|1"]) as (_, holding),
        reading(session, f"{server.url}/udf/streams", [("quote", SYMBOL)]) as (_, quoting),  # a watchlist's stream
    ):
        closed_before = rejected("stream closed: no subscription")
        await empty.wait_for(lambda r: r.ended, timeout=30)
        await holding.wait_for(lambda r: len([e for e in r.events if e.kind == "comment"]) >= 3, timeout=30)
        assert not holding.ended and not quoting.ended
        for reader, held in ((holding, {"sub": f"{SYMBOL}|1"}), (quoting, {"quote": SYMBOL})):
            async with session.post(f"{server.url}/udf/streams/{stream_id(reader)}/unsubscribe", params=held) as answer:
                assert answer.status == 200
            await reader.wait_for(lambda r: r.ended, timeout=30)
        assert rejected("stream closed: no subscription") == closed_before + 3


async def test_a_stream_ends_when_its_token_expires(stack: StackInfo, database_url: str, names: Names) -> None:
    short = issue(SECRET.encode(), "alice", ["*"], 2)
    async with (
        live(stack, database_url, names, access="tokens", token_secret=SECRET) as server,
        session_from() as session,
        streams(session, server.url, [f"{SYMBOL}|1"], headers={"Authorization": f"Bearer {short}"}) as (response, r),
    ):
        assert response.status == 200
        await r.wait_for(lambda r: r.ended, timeout=30)
        assert r.bars(), "it served until then"


async def test_a_client_that_leaves_bytes_unread_is_dropped(stack: StackInfo, database_url: str, names: Names) -> None:
    async with live(stack, database_url, names, sse_max_unread=4096, sse_queue=100_000) as server:
        port = int(server.url.rsplit(":", 1)[1])
        silent = await _silent_client(port, f"/udf/stream?symbol={OTHER}&resolution=1S")
        reading_stream = stream(session := session_from(), server.url, SYMBOL, "1S")
        try:
            async with reading_stream as (_, reader):
                dropped_before = rejected("stream dropped: slow reader")
                for start in range(0, 40_000, 2_000):  # bounded: 40,000 bars of ~200 bytes at most
                    flood = [update(OTHER, "1S", T + i, 50.0 + i % 7) for i in range(start, start + 2_000)]
                    await produce(
                        stack.kafka_bootstrap,
                        names.updates_topic,
                        [*flood, update(SYMBOL, "1S", T + start, 1.0 + start)],
                    )
                    if rejected("stream dropped: slow reader") > dropped_before:
                        break
                await eventually(lambda: rejected("stream dropped: slow reader") > dropped_before, 30)
                await reader.wait_for(lambda r: bool(r.bars()) and r.bars()[-1]["close"] == 1.0 + start)
                assert not reader.ended  # the reader kept its stream
            assert await _closed_by_server(silent, 30)
        finally:
            silent.close()
            await session.close()


async def test_half_open_and_idle_connections_are_closed(stack: StackInfo, database_url: str, names: Names) -> None:
    async with live(stack, database_url, names, web_idle_timeout=1) as server:
        port = int(server.url.rsplit(":", 1)[1])
        loop = asyncio.get_running_loop()
        slow = await _connect(port)
        await loop.sock_sendall(slow, b"GET /udf/time HTTP/1.1\r\nHost: x\r\n")
        started, sent = time.monotonic(), 0
        with contextlib.closing(slow):
            while sent < 60:  # a header byte every 0.2 s: 12 s at most, far past the 1 s timeout
                try:
                    await loop.sock_sendall(slow, b"X")
                except OSError:
                    break
                sent += 1
                if await _closed_by_server(slow, 0.2):
                    break
            assert sent < 60 and time.monotonic() - started < 10, "the dribbling client was never cut"
        idle = await _connect(port)
        with contextlib.closing(idle):
            await loop.sock_sendall(idle, b"GET /udf/time HTTP/1.1\r\nHost: x\r\n\r\n")
            assert await _closed_by_server(idle, 10)
        nothing = await _connect(port)
        with contextlib.closing(nothing):
            assert await _closed_by_server(nothing, 10)


async def test_reads_past_the_cap_are_answered_503_at_once(stack: StackInfo, database_url: str, names: Names) -> None:
    async with live(stack, database_url, names, web_max_reads=12, rate_limit=0) as server:
        holder = await asyncpg.connect(database_url)
        held = holder.transaction()
        await held.start()
        try:
            async with session_from() as session:
                async with session.get(f"{server.url}/udf/history", params=HISTORY) as response:
                    assert response.status == 200  # the symbol is known (cached) before the lock
                await holder.execute("LOCK TABLE bars IN ACCESS EXCLUSIVE MODE")

                async def read() -> tuple[int, dict[str, str]]:
                    async with session.get(f"{server.url}/udf/history", params=HISTORY) as response:
                        return response.status, dict(response.headers)

                reads = [asyncio.ensure_future(read()) for _ in range(20)]
                busy = await eventually(lambda: [r.result() for r in reads if r.done()] or None, 30)
                assert all(status == 503 and headers["Retry-After"] == "1" for status, headers in busy), busy
                await eventually(lambda: len([r for r in reads if r.done()]) >= 8, 30, what="8 refused at once")
                assert len([r for r in reads if r.done()]) == 8  # 10 reading, 2 waiting: the rest refused
                await held.rollback()
                answers = await asyncio.gather(*reads)
                assert sorted(status for status, _ in answers) == [200] * 12 + [503] * 8
        finally:
            await holder.close()


async def test_3000_bad_requests_leave_a_handful_of_log_lines(
    stack: StackInfo, database_url: str, names: Names, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_env(
        names.env(stack, database_url, access="tokens", token_secret=SECRET, rate_limit=200, rate_burst=400)
    )
    await two_series(stack, database_url, names)
    good = issue(SECRET.encode(), "alice", ["Coinbase:*"], 600)
    caplog.set_level(logging.DEBUG)
    bad: list[tuple[str, dict[str, str], dict[str, str]]] = [
        ("/udf/history", {**HISTORY, "to": "9" * 4400, "token": good}, {}),  # an oversized integer: 400
        ("/udf/history", {**HISTORY, "symbol": "Nowhere:X/Y"}, {"Authorization": f"Bearer {good}"}),  # 404
        ("/udf/history", {**HISTORY, "symbol": OTHER}, {"Authorization": f"Bearer {good}"}),  # 403
        ("/udf/history", HISTORY, {}),  # 401
        ("/no/such/route", {"token": good}, {}),  # 404
    ]
    statuses: dict[int, int] = {}
    async with serving(settings) as server, session_from() as session:
        caplog.clear()
        for n in range(3000):
            path, params, headers = bad[n % len(bad)]
            async with session.get(f"{server.url}{path}", params=params, headers=headers) as response:
                statuses[response.status] = statuses.get(response.status, 0) + 1
                await response.read()
        for _ in range(20):  # and malformed HTTP (a header value with a control character)
            port = int(server.url.rsplit(":", 1)[1])
            raw = await _connect(port)
            with contextlib.closing(raw):
                await asyncio.get_running_loop().sock_sendall(raw, b"GET /udf/time HTTP/1.1\r\nHost: \x01\r\n\r\n")
                await _closed_by_server(raw, 10)
    assert {400, 401, 403, 404, 429} <= set(statuses), statuses
    lines = [r for r in caplog.records if r.name.startswith(("candleflow", "aiohttp")) and r.levelno >= logging.INFO]
    kinds = [record.getMessage().split("(", 1)[1].split(")", 1)[0] for record in lines]
    assert len(set(kinds)) <= 7 and all(kinds.count(kind) <= 2 for kind in kinds), kinds  # not a line per request
    for record in lines:
        assert record.exc_info is None and good not in record.getMessage() and "?" not in record.getMessage()


async def _connect(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return sock


async def _silent_client(port: int, target: str) -> socket.socket:
    """Asks for a stream and never reads a byte (a small receive buffer, so the server's
    writes pile up in its own buffer soon)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


async def _closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes `sock` within `within` seconds (reading what it sends)."""
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            async with asyncio.timeout(max(0.01, deadline - time.monotonic())):
                data = await loop.sock_recv(sock, 65536)
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        if not data:
            return True
    return False
