"""`/udf/stream?symbol=…&resolution=…`: live bars as Server-Sent Events.

Events::

    event: bar
    data: {"symbol": …, "resolution": "1", "time": <unix s>, "open": …, "high": …,
           "low": …, "close": …, "volume": …, "trades": …}

    event: reset
    data: {}

    : hb

On connect the current (latest) bar is sent at once, then every change of that bar or
of a newer one. A correction of an older bar (or any update older than the newest bar
sent) becomes `reset`: the client should call `onResetCacheNeeded` and refetch history.
A heartbeat comment goes out every `CANDLEFLOW_SSE_HEARTBEAT` seconds. Past
`CANDLEFLOW_SSE_MAX_CLIENTS` connections new ones get 503 with `Retry-After`.

The route is a raw aiohttp route on the worker's application (not a Faust view and
never `@app.table_route`, which buffers): the handler writes a `StreamResponse`
itself, watches the transport (the hub sweeps subscribers every second, and a failed
or stalled write ends the stream) and frees its subscription when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from candleflow.metrics import SSE_DROPPED, SSE_REJECTED
from candleflow.store import queries
from candleflow.web import params, responses
from candleflow.web.errors import UdfError, unavailable
from candleflow.web.hub import BarUpdate, Hub, Subscriber
from candleflow.web.routing import aiohttp_app, database, settings
from candleflow.web.udf import resolve

log = logging.getLogger(__name__)

HUB_START_TIMEOUT = 10.0
RETRY_AFTER_S = 5
#: The client's EventSource reconnect delay, in ms.
RECONNECT_MS = 3000
#: A write that cannot be flushed for this long means a client that stopped reading.
WRITE_TIMEOUT = max(5.0, 2 * settings.sse_heartbeat)

hub = Hub(settings.kafka_bootstrap, settings.updates_topic, settings.sse_queue)

STREAM_HEADERS = {
    **responses.CORS_HEADERS,
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
}
RESET_EVENT = b"event: reset\ndata: {}\n\n"
HEARTBEAT = b": hb\n\n"


def bar_event(data: bytes) -> bytes:
    return b"event: bar\ndata: " + data + b"\n\n"


def _abort(request: web.Request) -> None:
    """Cut a connection at once (a client too slow to keep; do not flush its buffer)."""
    if request.transport is not None:
        request.transport.abort()


def _alive(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()


async def stream(request: web.Request) -> web.StreamResponse:
    """Live bars of one symbol and resolution (see the module docstring)."""
    q = request.query
    row = await resolve(params.text(q, "symbol"))
    res = params.resolution(q)
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
    subscriber = hub.subscribe(row.symbol, res.code, alive=lambda: _alive(request), on_drop=lambda: _abort(request))
    try:
        latest = await queries.latest_bar(await database.pool(), row.symbol, res.code)
        response = web.StreamResponse(headers=STREAM_HEADERS)
        await response.prepare(request)
        await response.write(f"retry: {RECONNECT_MS}\n\n".encode())
        if latest is not None:
            first = BarUpdate(
                row.symbol,
                res.code,
                latest.time,
                latest.open,
                latest.high,
                latest.low,
                latest.close,
                latest.volume,
                latest.trades,
            )
            await response.write(bar_event(first.event_data()))
            subscriber.sent(latest.time)
        await _pump(request, response, subscriber)
        return response
    finally:
        hub.unsubscribe(subscriber)


async def _pump(request: web.Request, response: web.StreamResponse, subscriber: Subscriber) -> None:
    """Write pending bars, resets and heartbeats until the client or the server ends it."""
    heartbeat = settings.sse_heartbeat
    last_sent = subscriber.newest
    try:
        while subscriber.closed is None:
            try:
                async with asyncio.timeout(heartbeat):
                    await subscriber.wakeup.wait()
            except TimeoutError:
                if not _alive(request):
                    break
                await _write(response, HEARTBEAT)
                continue
            reset, bars = subscriber.take()
            chunks: list[bytes] = []
            if reset:
                chunks.append(RESET_EVENT)
            for bar in bars:
                if last_sent is not None and bar.time < last_sent:
                    if not reset:
                        chunks.append(RESET_EVENT)
                        reset = True
                    continue
                chunks.append(bar_event(bar.event_data()))
                last_sent = bar.time
            if chunks:
                await _write(response, b"".join(chunks))
    except TimeoutError:
        SSE_DROPPED.inc()
        log.info("dropping SSE client of %s|%s: not reading", *subscriber.key)
        subscriber.close("stalled")
    except (ConnectionError, RuntimeError) as exc:  # client went away mid-write
        log.debug("SSE client of %s|%s gone: %r", *subscriber.key, exc)
        subscriber.close("gone")
    if subscriber.closed in ("slow", "stalled", "gone"):
        _abort(request)  # do not wait for a non-reading client to take the final chunk


async def _write(response: web.StreamResponse, data: bytes) -> None:
    async with asyncio.timeout(WRITE_TIMEOUT):
        await response.write(data)


async def _close_streams(_: web.Application) -> None:
    hub.close_all()


async def _stop_hub(_: web.Application) -> None:
    with contextlib.suppress(Exception):
        await hub.stop()


aiohttp_app.router.add_get("/udf/stream", stream, allow_head=False, name="candleflow.stream")
aiohttp_app.on_shutdown.append(_close_streams)
aiohttp_app.on_cleanup.append(_stop_hub)
