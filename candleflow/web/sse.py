"""`/udf/stream?symbol=…&resolution=…`: live bars of one series as Server-Sent Events.

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
journal covers it (see `candleflow.web.event_stream.catch_up`). A heartbeat comment goes
out every `CANDLEFLOW_SSE_HEARTBEAT` seconds. Past `CANDLEFLOW_SSE_MAX_CLIENTS`
connections new ones get 503 with `Retry-After`.
"""

from __future__ import annotations

from aiohttp import web

from candleflow.web import event_stream
from candleflow.web.connection import SINGLE_SERIES
from candleflow.web.context import context
from candleflow.web.params import RESOLUTION, SYMBOL, Param, Query
from candleflow.web.udf import resolve

#: The routes of this module's views (`candleflow.web.routes` gathers every module's).
ROUTES = web.RouteTableDef()

#: `last_event_id`: read leniently (an id we did not issue means "older than anything").
LAST_EVENT_ID = Param(
    "last_event_id",
    "The id of the last event received, for a client that reopens the stream itself "
    "(the `Last-Event-ID` header wins); the bars changed since then follow",
    max_length=40,
)
STREAM = Query(SYMBOL, RESOLUTION, LAST_EVENT_ID)


@ROUTES.get("/udf/stream", allow_head=False)
async def stream(request: web.Request) -> web.StreamResponse:
    """Live bars of one symbol and resolution (see the module docstring)."""
    ctx = context(request)
    q = STREAM.read(request.query)
    row = await resolve(ctx, q.text("symbol"))
    key = (row.symbol, q.resolution().code)
    hub = await event_stream.admit(ctx)
    connection = event_stream.new_connection(ctx, hub, request, SINGLE_SERIES)
    try:
        last_id = event_stream.last_event_id(request, q.text("last_event_id"))
        await event_stream.catch_up(ctx, hub, connection, key, last_id)
        response = await event_stream.open_stream(request, connection)
        await event_stream.pump(ctx, request, response, connection)
        return response
    finally:
        hub.detach(connection)
