"""What every Server-Sent Events stream of the web layer shares: admission, catching up,
writing. The endpoints are `candleflow.web.sse` (`/udf/stream`, one series) and
`candleflow.web.streams` (`/udf/streams`, any number).

A stream is a raw aiohttp handler (never `@app.table_route`, which buffers) that writes a
`StreamResponse` itself: `admit` takes it in (the worker's hub, started; 503 past
`CANDLEFLOW_SSE_MAX_CLIENTS`), `catch_up` queues what a new or resuming client needs,
`open_stream` sends the head and lets the hub write to the socket directly, and `pump`
writes what queued and the heartbeats until the client or the server ends the stream.
The handler watches the transport (the hub sweeps connections every second, and a failed
or stalled write ends the stream) and frees its subscriptions when it ends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

from aiohttp import HttpVersion11, web

from candleflow.core.metrics import SSE_DROPPED, SSE_REJECTED
from candleflow.domain.updates import BarUpdate, Key
from candleflow.store import queries
from candleflow.web import responses
from candleflow.web.connection import HUB_TO_CLIENT, Bodies, Connection, Wire
from candleflow.web.context import WebContext
from candleflow.web.errors import UdfError, unavailable
from candleflow.web.hub import Hub

log = logging.getLogger(__name__)

HUB_START_TIMEOUT = 10.0
RETRY_AFTER_S = 5
#: The client's EventSource reconnect delay, in ms.
RECONNECT_MS = 3000
#: Changed bars a resuming client is sent at most; past that it gets a reset.
RESUME_MAX_BARS = 500

STREAM_HEADERS = {
    **responses.CORS_HEADERS,
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
}
HEARTBEAT = b": hb\n\n"


def write_timeout(heartbeat: float) -> float:
    """A write that cannot be flushed for this long means a client that stopped reading."""
    return max(5.0, 2 * heartbeat)


def last_event_id(request: web.Request, from_query: str | None) -> int | None:
    """The id the client last received (the `Last-Event-ID` header, else `from_query`, the
    `last_event_id` parameter of a client that reopens the stream itself); 0 (older than
    anything) for one we did not issue."""
    raw = request.headers.get("Last-Event-ID") or from_query
    if not raw:
        return None
    try:
        return max(0, int(raw))
    except ValueError:
        return 0


async def admit(ctx: WebContext) -> Hub:
    """The worker's hub, started (bounded waits); refused past the client limit."""
    hub = await ctx.runtime.started_hub(HUB_START_TIMEOUT)
    limit = ctx.settings.sse_max_clients
    if hub.clients >= limit:
        SSE_REJECTED.inc()
        raise UdfError(
            f"too many stream clients (limit {limit}), retry later", 503, {"Retry-After": str(RETRY_AFTER_S)}
        )
    try:
        async with asyncio.timeout(HUB_START_TIMEOUT):
            await hub.ensure_started()
    except TimeoutError:
        raise unavailable("kafka", RETRY_AFTER_S) from None
    return hub


def new_connection(ctx: WebContext, hub: Hub, request: web.Request, wire: Wire) -> Connection:
    connection = Connection(
        ctx.settings.sse_queue, wire, alive=lambda: _alive(request), on_drop=lambda: _abort(request)
    )
    return hub.attach(connection)


async def catch_up(ctx: WebContext, hub: Hub, connection: Connection, key: Key, last_id: int | None) -> None:
    """Subscribe `connection` to `key` and queue what the client needs to be current.

    A new client (no id) gets the latest bar. A resuming one gets every bar that
    changed after its id (older ones as corrections, the newest as a bar), or — when
    the hub's journal does not reach back that far, or too much changed — a reset
    and the latest bar.
    """
    stamp = hub.now  # every update up to here is in the database we read next
    journal = hub.subscribe(connection, key)
    db = await ctx.database.connected()
    changed = None if last_id is None else journal.changed_after(last_id)
    if changed:
        bars = await queries.bars_since(db, key[0], key[1], min(changed), RESUME_MAX_BARS + 1)
        if len(bars) <= RESUME_MAX_BARS:
            for n, bar in enumerate(bars, 1):
                newest = n == len(bars)
                if newest or bar.time in changed:
                    _offer(connection, bar if newest else dataclasses.replace(bar, correction=True), stamp)
            return
    if last_id is not None and changed != set():
        connection.reset(key, stamp)
    latest = await queries.latest_bar(db, *key)
    if latest is not None:
        _offer(connection, latest, stamp)


def _offer(connection: Connection, update: BarUpdate, stamp: int) -> None:
    connection.offer(Bodies(update), stamp, time.monotonic())


async def open_stream(request: web.Request, connection: Connection) -> web.StreamResponse:
    """Send the response head, then let the hub write to this client directly."""
    response = web.StreamResponse(headers=STREAM_HEADERS)
    direct = request.version >= HttpVersion11
    if direct:
        response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(f"retry: {RECONNECT_MS}\n\n".encode())
    connection.go_direct(request.transport if direct else None)
    return response


async def pump(ctx: WebContext, request: web.Request, response: web.StreamResponse, connection: Connection) -> None:
    """Write queued events and heartbeats until the client or the server ends the stream."""
    heartbeat = ctx.settings.sse_heartbeat
    timeout = write_timeout(heartbeat)
    try:
        while connection.closed is None:
            try:
                async with asyncio.timeout(heartbeat):
                    await connection.wakeup.wait()
            except TimeoutError:
                if not _alive(request):
                    break
                await _write(response, HEARTBEAT, timeout)
                continue
            data, oldest = connection.take()
            if data:
                await _write(response, data, timeout)
                if oldest is not None:
                    HUB_TO_CLIENT.observe(time.monotonic() - oldest)
    except TimeoutError:
        SSE_DROPPED.inc()
        log.info("dropping SSE client %s: not reading", connection.stream_id)
        connection.close("stalled")
    except (ConnectionError, RuntimeError) as exc:  # client went away mid-write
        log.debug("SSE client %s gone: %r", connection.stream_id, exc)
        connection.close("gone")
    if connection.closed in ("slow", "stalled", "gone"):
        _abort(request)  # do not wait for a non-reading client to take the final chunk


def _abort(request: web.Request) -> None:
    """Cut a connection at once (a client too slow to keep; do not flush its buffer)."""
    if request.transport is not None:
        request.transport.abort()


def _alive(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()


async def _write(response: web.StreamResponse, data: bytes, within: float) -> None:
    async with asyncio.timeout(within):
        await response.write(data)
