"""`/udf/streams`: one Server-Sent Events connection for any number of series.

    GET  /udf/streams?sub=<symbol>|<resolution>&sub=…        open (zero or more subs)
    POST /udf/streams/<stream>/subscribe?sub=…&sub=…          add subs to an open stream
    POST /udf/streams/<stream>/unsubscribe?sub=…              remove subs

A sub is the series' `bars.updates` key: symbol and resolution joined by the last
`|`. The stream starts with `hello` naming its id (the `<stream>` of the POSTs), then
for every sub `subscribed` (the sub as asked, and the canonical symbol and resolution
that its events carry) and its current bar. Events, each with an `id:`::

    event: hello       data: {"stream": "<id>"}
    event: subscribed  data: {"sub": "BTC/USD|1S", "symbol": "Coinbase:BTC/USD", "resolution": "1S"}
    event: bar         data: {"symbol": …, "resolution": …, "time": …, "open": …, …}
    event: correction  data: <a bar, as `bar`>: an older bar changed; apply it in place
    event: reset       data: {"symbol": …, "resolution": …}: refetch that series' history
    : hb

A client that reopens the stream (same subs, `Last-Event-ID` header or
`last_event_id=`) gets, per sub, the bars that changed since that id — `reset` only
when the hub cannot tell (see `candleflow.web.sse.catch_up`). The POSTs answer
`{"s": "ok", "subscribed": [{"sub", "symbol", "resolution"}]}`; an unknown stream is
404, a malformed or unknown sub 400/404, all as UDF error bodies.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from candleflow.domain.updates import Key
from candleflow.web import params, responses
from candleflow.web.connection import Connection, event
from candleflow.web.errors import UdfError
from candleflow.web.hub import Hub
from candleflow.web.routing import aiohttp_app
from candleflow.web.runtime import runtime_hub
from candleflow.web.sse import admit, catch_up, last_event_id, new_connection, open_stream, pump
from candleflow.web.udf import resolve

#: Subscriptions one stream may hold.
MAX_SUBS = 64

#: The `sub` query parameter of all three routes, as OpenAPI declares a parameter
#: (for `candleflow.web.openapi`; the stream itself must stay out of fuzzing, it never ends).
SUB_PARAMETER = {
    "name": "sub",
    "in": "query",
    "required": False,
    "style": "form",
    "explode": True,
    "schema": {"type": "array", "maxItems": MAX_SUBS, "items": {"type": "string", "pattern": r"^.+\|.+$"}},
    "description": "A series: <symbol>|<resolution> (split at the last |); repeat for more",
}


async def parse_subs(request: web.Request) -> list[tuple[str, Key]]:
    """Each `sub=` as asked and as the canonical series key (unknown symbol: 404)."""
    asked = request.query.getall("sub", [])
    if len(asked) > MAX_SUBS:
        raise UdfError(f"at most {MAX_SUBS} sub= per request")
    subs = []
    for sub in asked:
        symbol, bar, resolution = sub.rpartition("|")
        if not bar or not symbol:
            raise UdfError(f"sub={sub!r}: expected <symbol>|<resolution>, e.g. Coinbase:BTC/USD|1")
        row = await resolve(symbol)
        res = params.resolution({"resolution": resolution})
        subs.append((sub, (row.symbol, res.code)))
    return subs


async def _subscribe(hub: Hub, connection: Connection, subs: list[tuple[str, Key]], last_id: int | None) -> None:
    if len(connection.subscriptions) + len(subs) > MAX_SUBS:
        raise UdfError(f"a stream holds at most {MAX_SUBS} subscriptions")
    for asked, key in subs:
        data = orjson.dumps({"sub": asked, "symbol": key[0], "resolution": key[1]})
        connection.control(event(b"subscribed", data), hub.clock)
        if key not in connection.subscriptions:
            await catch_up(hub, connection, key, last_id)


async def open_streams(request: web.Request) -> web.StreamResponse:
    """Open a multiplexed stream (see the module docstring)."""
    subs = await parse_subs(request)
    hub = await admit(request)
    connection = new_connection(hub, request, legacy=False)
    try:
        connection.control(event(b"hello", orjson.dumps({"stream": connection.stream_id})), hub.clock)
        await _subscribe(hub, connection, subs, last_event_id(request))
        response = await open_stream(request, connection)
        await pump(request, response, connection)
        return response
    finally:
        hub.detach(connection)


def _connection(hub: Hub, request: web.Request) -> Connection:
    connection = hub.connections.get(request.match_info["stream"])
    if connection is None or connection.closed is not None or connection.legacy:
        raise UdfError("unknown_stream", 404)
    return connection


async def subscribe(request: web.Request) -> web.StreamResponse:
    """Add subscriptions to an open stream; their current bars follow on it."""
    hub = runtime_hub(request)
    connection = _connection(hub, request)
    subs = await parse_subs(request)
    await _subscribe(hub, connection, subs, None)
    answer = [{"sub": asked, "symbol": key[0], "resolution": key[1]} for asked, key in subs]
    return responses.json({"s": "ok", "subscribed": answer})


async def unsubscribe(request: web.Request) -> web.StreamResponse:
    """Remove subscriptions from an open stream (unknown ones are ignored)."""
    hub = runtime_hub(request)
    connection = _connection(hub, request)
    for _, key in await parse_subs(request):
        hub.unsubscribe(connection, key)
    return responses.json({"s": "ok"})


aiohttp_app.router.add_get("/udf/streams", open_streams, allow_head=False, name="candleflow.streams")
aiohttp_app.router.add_post("/udf/streams/{stream}/subscribe", subscribe, name="candleflow.streams.subscribe")
aiohttp_app.router.add_post("/udf/streams/{stream}/unsubscribe", unsubscribe, name="candleflow.streams.unsubscribe")
