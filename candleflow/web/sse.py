"""`/udf/stream?symbol=…&resolution=…`: live bars of one series as Server-Sent Events,
and what every stream shares: admission, catching up, writing.

Events of this (single-series) stream::

    id: <stamp>
    event: bar
    data: {"symbol": …, "resolution": "1", "time": <unix s>, "open": …, "high": …,
           "low": …, "close": …, "volume": …, "trades": …}

    id: <stamp>
    event: reset
    data: {}

    : hb

On connect the current (latest) bar is sent at once, then every change of that bar or
of a newer one. A correction of an older bar becomes `reset`: the client should call
`onResetCacheNeeded` and refetch history. (`/udf/streams`, the multiplexed stream in
`candleflow.web.streams`, sends the corrected bar instead.) A client reconnecting with
`Last-Event-ID` (header, or `last_event_id=` for a client that reopens the stream
itself) gets the bars that changed since that id instead of a reset, when the hub's
journal covers it (see `catch_up`). A heartbeat comment goes out every
`CANDLEFLOW_SSE_HEARTBEAT` seconds. Past `CANDLEFLOW_SSE_MAX_CLIENTS` connections new
ones get 503 with `Retry-After`.

The routes are raw aiohttp routes on the worker's application (not Faust views and
never `@app.table_route`, which buffers): the handler writes a `StreamResponse`
itself, watches the transport (the hub sweeps connections every second, and a failed
or stalled write ends the stream) and frees its subscriptions when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import HttpVersion11, web

from candleflow.core.metrics import SSE_DROPPED, SSE_REJECTED
from candleflow.domain.updates import Key
from candleflow.store import queries
from candleflow.web import params, responses
from candleflow.web.connection import HUB_TO_CLIENT, Bodies, Connection
from candleflow.web.errors import UdfError, unavailable
from candleflow.web.hub import Hub, as_update
from candleflow.web.routing import aiohttp_app, database, settings
from candleflow.web.runtime import of, started_hub
from candleflow.web.udf import resolve

log = logging.getLogger(__name__)

HUB_START_TIMEOUT = 10.0
RETRY_AFTER_S = 5
#: The client's EventSource reconnect delay, in ms.
RECONNECT_MS = 3000
#: A write that cannot be flushed for this long means a client that stopped reading.
WRITE_TIMEOUT = max(5.0, 2 * settings.sse_heartbeat)
#: Changed bars a resuming client is sent at most; past that it gets a reset.
RESUME_MAX_BARS = 500

STREAM_HEADERS = {
    **responses.CORS_HEADERS,
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
}
HEARTBEAT = b": hb\n\n"


def last_event_id(request: web.Request) -> int | None:
    """The id the client last received; 0 (older than anything) for one we did not issue."""
    raw = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    if not raw:
        return None
    try:
        return max(0, int(raw))
    except ValueError:
        return 0


async def admit(request: web.Request) -> Hub:
    """The worker's hub, started (bounded waits); refused past the client limit."""
    hub = await started_hub(request, HUB_START_TIMEOUT)
    if hub.clients >= settings.sse_max_clients:
        SSE_REJECTED.inc()
        raise UdfError(
            f"too many stream clients (limit {settings.sse_max_clients}), retry later",
            503,
            {"Retry-After": str(RETRY_AFTER_S)},
        )
    try:
        async with asyncio.timeout(HUB_START_TIMEOUT):
            await hub.ensure_started()
    except TimeoutError:
        raise unavailable("kafka", RETRY_AFTER_S) from None
    return hub


def new_connection(hub: Hub, request: web.Request, *, legacy: bool) -> Connection:
    return hub.attach(
        Connection(settings.sse_queue, legacy=legacy, alive=lambda: _alive(request), on_drop=lambda: _abort(request))
    )


async def catch_up(hub: Hub, connection: Connection, key: Key, last_id: int | None) -> None:
    """Subscribe `connection` to `key` and queue what the client needs to be current.

    A new client (no id) gets the latest bar. A resuming one gets every bar that
    changed after its id (older ones as corrections, the newest as a bar), or — when
    the hub's journal does not reach back that far, or too much changed — a reset
    and the latest bar.
    """
    stamp = hub.clock  # every update up to here is in the database we read next
    journal = hub.subscribe(connection, key)
    db = await database.connected()
    changed = None if last_id is None else journal.changed_after(last_id)
    if changed:
        bars = await queries.bars_since(db, key[0], key[1], min(changed), RESUME_MAX_BARS + 1)
        if len(bars) <= RESUME_MAX_BARS:
            for n, bar in enumerate(bars, 1):
                newest = n == len(bars)
                if newest or bar.time in changed:
                    connection.offer(Bodies(as_update(*key, bar, correction=not newest)), stamp, time.monotonic())
            return
    if last_id is not None and changed != set():
        connection.reset(key, stamp)
    latest = await queries.latest_bar(db, *key)
    if latest is not None:
        connection.offer(Bodies(as_update(*key, latest)), stamp, time.monotonic())


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


async def pump(request: web.Request, response: web.StreamResponse, connection: Connection) -> None:
    """Write queued events and heartbeats until the client or the server ends the stream."""
    heartbeat = settings.sse_heartbeat
    try:
        while connection.closed is None:
            try:
                async with asyncio.timeout(heartbeat):
                    await connection.wakeup.wait()
            except TimeoutError:
                if not _alive(request):
                    break
                await _write(response, HEARTBEAT)
                continue
            data, oldest = connection.take()
            if data:
                await _write(response, data)
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


async def stream(request: web.Request) -> web.StreamResponse:
    """Live bars of one symbol and resolution (see the module docstring)."""
    q = request.query
    row = await resolve(params.text(q, "symbol"))
    res = params.resolution(q)
    hub = await admit(request)
    connection = new_connection(hub, request, legacy=True)
    try:
        await catch_up(hub, connection, (row.symbol, res.code), last_event_id(request))
        response = await open_stream(request, connection)
        await pump(request, response, connection)
        return response
    finally:
        hub.detach(connection)


def _abort(request: web.Request) -> None:
    """Cut a connection at once (a client too slow to keep; do not flush its buffer)."""
    if request.transport is not None:
        request.transport.abort()


def _alive(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()


async def _write(response: web.StreamResponse, data: bytes) -> None:
    async with asyncio.timeout(WRITE_TIMEOUT):
        await response.write(data)


async def _close_streams(app: web.Application) -> None:
    worker = of(app).worker
    if worker is not None:
        worker.hub.close_all()


aiohttp_app.router.add_get("/udf/stream", stream, allow_head=False, name="candleflow.stream")
aiohttp_app.on_shutdown.append(_close_streams)
