"""What every Server-Sent Events stream of the web layer shares: admission, catching up,
writing. The endpoints are `candleflow.web.sse` (`/udf/stream`, one series) and
`candleflow.web.streams` (`/udf/streams`, any number).

A stream is a raw aiohttp handler (never `@app.table_route`, which buffers) that writes a
`StreamResponse` itself: `opened` takes it in (the worker's hub, started; 503 past
`CANDLEFLOW_SSE_MAX_CLIENTS`, 429 past `CANDLEFLOW_SSE_MAX_PER_CLIENT` for its client)
and frees what it held when it ends, `subscribe` adds series (429 past
`CANDLEFLOW_SSE_MAX_SUBS_PER_CLIENT`) and `catch_up` queues what a new or resuming
client needs, `open_stream` sends the head and lets the hub write to the socket
directly, and `pump` writes what queued and the heartbeats until the client or the
server ends the stream.

`pump` ends a stream whose client went away, stopped reading (a write it cannot flush,
or more than `CANDLEFLOW_SSE_MAX_UNREAD` bytes left unread), held no subscription for
`CANDLEFLOW_SSE_IDLE` seconds, or whose access token expired; each drop is counted and
logged sparingly (`candleflow.web.rejections`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator

from aiohttp import HttpVersion11, web

from candleflow.core.metrics import SSE_DROPPED, SSE_REJECTED
from candleflow.domain.updates import BarUpdate, Key
from candleflow.store import queries
from candleflow.web import rules
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


@contextlib.contextmanager
def client_stream(ctx: WebContext, request: web.Request) -> Iterator[str]:
    """One of the streams the request's client may hold (`CANDLEFLOW_SSE_MAX_PER_CLIENT`,
    live streams and Bar Replays together; 429 past it), given back when the block ends;
    the client's key."""
    client = rules.client(request)
    streams = ctx.limits.streams
    if not streams.acquire(client):
        raise UdfError(
            f"too many streams open for this client (limit {streams.cap}): close one, or use /udf/streams "
            "for many series on one connection",
            429,
            {"Retry-After": str(RETRY_AFTER_S)},
        )
    try:
        yield client
    finally:
        streams.release(client)


@contextlib.asynccontextmanager
async def opened(ctx: WebContext, request: web.Request, wire: Wire) -> AsyncIterator[tuple[Hub, Connection]]:
    """A new stream of the request's client, and what it held given back when it ends."""
    hub = await admit(ctx)
    with client_stream(ctx, request) as client:
        connection = new_connection(ctx, hub, request, wire)
        try:
            yield hub, connection
        finally:
            ctx.limits.subscriptions.release(client, len(connection.subscriptions))
            hub.detach(connection)


def new_connection(ctx: WebContext, hub: Hub, request: web.Request, wire: Wire) -> Connection:
    grant = rules.grant(request)
    connection = Connection(
        ctx.settings.sse_queue,
        wire,
        alive=lambda: _alive(request),
        on_drop=lambda: _dropped(ctx, request, "slow reader"),
        max_unread=ctx.settings.sse_max_unread,
        client=rules.client(request),
        owner=grant.holder,
        expires=grant.expires,
    )
    return hub.attach(connection)


def reserve(ctx: WebContext, connection: Connection, keys: list[Key]) -> None:
    """Refuse (429) series that would take the client of `connection` past
    `CANDLEFLOW_SSE_MAX_SUBS_PER_CLIENT` over all its streams (checked before any is
    subscribed; `catch_up` counts each as it subscribes it)."""
    new = len({key for key in keys if key not in connection.subscriptions})
    if ctx.limits.subscriptions.held(connection.client) + new > ctx.limits.subscriptions.cap:
        raise _too_many_subscriptions(ctx)


def _too_many_subscriptions(ctx: WebContext) -> UdfError:
    return UdfError(
        f"too many subscriptions for this client (limit {ctx.limits.subscriptions.cap} over all its streams): "
        "unsubscribe some first",
        429,
        {"Retry-After": str(RETRY_AFTER_S)},
    )


def unsubscribe(ctx: WebContext, hub: Hub, connection: Connection, key: Key) -> None:
    if key in connection.subscriptions:
        ctx.limits.subscriptions.release(connection.client)
    hub.unsubscribe(connection, key)


async def catch_up(ctx: WebContext, hub: Hub, connection: Connection, key: Key, last_id: int | None) -> None:
    """Subscribe `connection` to `key` and queue what the client needs to be current.

    A new client (no id) gets the latest bar. A resuming one gets every bar that
    changed after its id (older ones as corrections, the newest as a bar), or — when
    the hub's journal does not reach back that far, or too much changed — a reset
    and the latest bar.
    """
    stamp = hub.now  # every update up to here is in the database we read next
    if key not in connection.subscriptions and not ctx.limits.subscriptions.acquire(connection.client):
        raise _too_many_subscriptions(ctx)
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
    _bound_kernel_buffer(request, connection.max_unread)
    direct = request.version >= HttpVersion11
    if direct:
        response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(f"retry: {RECONNECT_MS}\n\n".encode())
    connection.go_direct(request.transport if direct else None)
    return response


def _bound_kernel_buffer(request: web.Request, size: int) -> None:
    """Cap the kernel's send buffer of the stream's socket near `size`. Left alone, the
    kernel grows it to megabytes for a client that does not read (its own memory, not
    the process's: 2,500 such clients pushed a host's TCP memory past its pressure
    threshold), and the process sees nothing unread until that is full."""
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


async def pump(ctx: WebContext, request: web.Request, response: web.StreamResponse, connection: Connection) -> None:
    """Write queued events and heartbeats until the client or the server ends the stream
    (see the module docstring for why the server ends one)."""
    heartbeat = ctx.settings.sse_heartbeat
    timeout = write_timeout(heartbeat)
    beat_at = time.monotonic() + heartbeat
    try:
        while connection.closed is None:
            ending = _ending(ctx, connection)
            if ending is not None:
                _dropped(ctx, request, ending)
                connection.close(ending)
                break
            try:
                async with asyncio.timeout(max(0.0, min(beat_at, _deadline(ctx, connection)) - time.monotonic())):
                    await connection.wakeup.wait()
            except TimeoutError:
                if not _alive(request):
                    break
                if time.monotonic() >= beat_at:
                    await _write(connection, response, HEARTBEAT, timeout)
                    beat_at = time.monotonic() + heartbeat
                continue
            data, oldest = connection.take()
            if data:
                await _write(connection, response, data, timeout)
                if oldest is not None:
                    HUB_TO_CLIENT.observe(time.monotonic() - oldest)
    except TimeoutError:
        SSE_DROPPED.inc()
        _dropped(ctx, request, "not reading")
        connection.close("stalled")
    except (ConnectionError, RuntimeError) as exc:  # client went away mid-write
        log.debug("SSE client %s gone: %r", connection.stream_id, exc)
        connection.close("gone")
    if connection.closed in ("slow", "stalled", "gone"):
        _abort(request)  # do not wait for a non-reading client to take the final chunk


def _deadline(ctx: WebContext, connection: Connection) -> float:
    """When (monotonic) the stream must end unless something changes: its idle limit, or
    its token's expiry."""
    deadline = float("inf")
    if connection.idle_since is not None:
        deadline = connection.idle_since + ctx.settings.sse_idle
    if connection.expires is not None:
        deadline = min(deadline, time.monotonic() + connection.expires - time.time())
    return deadline


def _ending(ctx: WebContext, connection: Connection) -> str | None:
    """Why the server ends the stream now: `idle`, `expired`, `slow`, or None."""
    if connection.expires is not None and time.time() >= connection.expires:
        return "expired"
    if connection.idle_since is not None and time.monotonic() - connection.idle_since >= ctx.settings.sse_idle:
        return "idle"
    if connection.too_slow(connection.unread()):
        SSE_DROPPED.inc()
        return "slow"
    return None


#: What a rejection log line says for each reason the server ends a stream.
DROPPED = {
    "idle": "stream closed: no subscription",
    "expired": "stream closed: access token expired",
    "slow": "stream dropped: slow reader",
    "slow reader": "stream dropped: slow reader",
    "not reading": "stream dropped: not reading",
}


def _dropped(ctx: WebContext, request: web.Request, why: str) -> None:
    """Count and (sparingly) log a stream the server ends; cut it at once when the client
    is too slow to keep (its buffer is not flushed)."""
    ctx.rejections.note(DROPPED.get(why, f"stream closed: {why}"), endpoint_pattern(request))
    if why in ("slow reader", "slow"):
        _abort(request)


def endpoint_pattern(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else ""


def _abort(request: web.Request) -> None:
    """Cut a connection at once (a client too slow to keep; do not flush its buffer)."""
    if request.transport is not None:
        request.transport.abort()


def _alive(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()


async def _write(connection: Connection, response: web.StreamResponse, data: bytes, within: float) -> None:
    connection.allow(len(data))
    async with asyncio.timeout(within):
        await response.write(data)
