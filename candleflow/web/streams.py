"""`/udf/streams`: one Server-Sent Events connection for any number of series and quotes.

    GET  /udf/streams?sub=<symbol>|<resolution>&sub=…&quote=<symbol>…   open (zero or more of each)
    POST /udf/streams/<stream>/subscribe?sub=…&quote=…                  add subs or quotes
    POST /udf/streams/<stream>/unsubscribe?sub=…&quote=…                remove them

A sub is the series' `bars.updates` key: symbol and resolution joined by the last
`|`. The stream starts with `hello` naming its id (the `<stream>` of the POSTs), then
for every sub `subscribed` (the sub as asked, and the canonical symbol and resolution
that its events carry) and its current bar. Events, each with an `id:`::

    event: hello       data: {"stream": "<id>"}
    event: subscribed  data: {"sub": "BTC/USD|1S", "symbol": "Coinbase:BTC/USD", "resolution": "1S"}
    event: bar         data: {"symbol": …, "resolution": …, "time": …, "open": …, …}
    event: correction  data: <a bar, as `bar`>: an older bar changed; apply it in place
    event: reset       data: {"symbol": …, "resolution": …}: refetch that series' history
    event: quote       data: {"s": "ok", "n": <symbol as asked>, "v": {…}}: see `quote_board`
    : hb

A client that reopens the stream (same subs, `Last-Event-ID` header or
`last_event_id=`) gets, per sub, the bars that changed since that id — `reset` only
when the hub cannot tell (see `candleflow.web.event_stream.catch_up`). The subscribe POST
answers `{"s": "ok", "subscribed": [{"sub", "symbol", "resolution"}], "quotes": [<quote as
asked>]}`, the unsubscribe POST `{"s": "ok"}`; an unknown stream is 404, a malformed or
unknown sub 400/404, all as UDF error bodies. A quote of a name no symbol has is answered
on the stream, as `/udf/quotes` answers it.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from candleflow.domain import symbols
from candleflow.domain.updates import Key
from candleflow.web import event_stream, params, responses
from candleflow.web.connection import MULTIPLEXED, Connection, event
from candleflow.web.context import WebContext, context
from candleflow.web.errors import UdfError
from candleflow.web.hub import Hub
from candleflow.web.params import Param, Query
from candleflow.web.sse import LAST_EVENT_ID
from candleflow.web.udf import resolve

#: The routes of this module's views (`candleflow.web.routes` gathers every module's).
ROUTES = web.RouteTableDef()

#: Subscriptions one stream may hold.
MAX_SUBS = 64
#: Symbols whose quotes one stream may follow, and one request may add (a URL holds ~8 KB).
MAX_QUOTES = 1000
QUOTES_PER_REQUEST = 40
#: The `errmsg` of a stream id no open stream has.
UNKNOWN_STREAM = "unknown_stream"

SUB = Param(
    "sub",
    "A series: `<symbol>|<resolution>` (split at the last `|`), e.g. `Coinbase:BTC/USD|1`; repeat for more",
    min_length=3,
    max_length=symbols.MAX_LENGTH + 4,
    pattern=f"{symbols.CHARACTERS}{{1,{symbols.MAX_LENGTH}}}\\|[0-9A-Za-z]{{1,3}}",
    max_items=MAX_SUBS,
    example="Coinbase:BTC/USD|1",
)
QUOTE = Param(
    "quote",
    "A symbol whose quote the stream carries (`quote` events, items of `/udf/quotes`); repeat for more "
    f"(a stream follows up to {MAX_QUOTES})",
    min_length=1,
    max_length=symbols.MAX_LENGTH,
    pattern=f"{symbols.CHARACTERS}{{1,{symbols.MAX_LENGTH}}}",
    max_items=QUOTES_PER_REQUEST,
    example="Coinbase:BTC/USD",
)
#: `GET /udf/streams`: the subs and quotes to open with, and the resume id.
OPEN = Query(SUB, QUOTE, LAST_EVENT_ID)
#: The subscribe and unsubscribe POSTs.
CHANGE = Query(SUB, QUOTE)


async def resolve_subs(ctx: WebContext, asked: list[str]) -> list[tuple[str, Key]]:
    """Each `sub=` as asked and as the canonical series key (unknown symbol: 404)."""
    subs = []
    for sub in asked:
        symbol, _, resolution = sub.rpartition("|")
        row = await resolve(ctx, symbol)
        subs.append((sub, (row.symbol, params.resolution_of(resolution).code)))
    return subs


async def _subscribe(
    ctx: WebContext, hub: Hub, connection: Connection, subs: list[tuple[str, Key]], last_id: int | None
) -> None:
    if len(connection.subscriptions) + len(subs) > MAX_SUBS:
        raise UdfError(f"a stream holds at most {MAX_SUBS} subscriptions")
    for asked, key in subs:
        data = orjson.dumps({"sub": asked, "symbol": key[0], "resolution": key[1]})
        connection.control(event(b"subscribed", data), hub.now)
        if key not in connection.subscriptions:
            await event_stream.catch_up(ctx, hub, connection, key, last_id)


async def _follow(ctx: WebContext, hub: Hub, connection: Connection, quotes: list[str]) -> None:
    if len(connection.quoted) + len(quotes) > MAX_QUOTES:
        raise UdfError(f"a stream follows at most {MAX_QUOTES} quotes")
    if quotes:
        ctx.quotes.attach(hub)
        await ctx.quotes.follow(connection, quotes, hub.now)


@ROUTES.get("/udf/streams", allow_head=False)
async def open_streams(request: web.Request) -> web.StreamResponse:
    """Open a multiplexed stream (see the module docstring)."""
    ctx = context(request)
    q = OPEN.read(request.query)
    subs = await resolve_subs(ctx, q.texts("sub"))
    hub = await event_stream.admit(ctx)
    connection = event_stream.new_connection(ctx, hub, request, MULTIPLEXED)
    try:
        connection.control(event(b"hello", orjson.dumps({"stream": connection.stream_id})), hub.now)
        await _subscribe(ctx, hub, connection, subs, event_stream.last_event_id(request, q.text("last_event_id")))
        await _follow(ctx, hub, connection, q.texts("quote"))
        response = await event_stream.open_stream(request, connection)
        await event_stream.pump(ctx, request, response, connection)
        return response
    finally:
        ctx.quotes.unfollow(connection, list(connection.quoted.values()))
        hub.detach(connection)


def _connection(hub: Hub, request: web.Request) -> Connection:
    connection = hub.connections.get(request.match_info["stream"])
    if connection is None or connection.closed is not None or connection.wire is not MULTIPLEXED:
        raise UdfError(UNKNOWN_STREAM, 404)
    return connection


@ROUTES.post("/udf/streams/{stream}/subscribe")
async def subscribe(request: web.Request) -> web.StreamResponse:
    """Add subscriptions to an open stream; their current bars follow on it."""
    ctx = context(request)
    hub = ctx.runtime.hub()
    connection = _connection(hub, request)
    q = CHANGE.read(request.query)
    subs = await resolve_subs(ctx, q.texts("sub"))
    await _subscribe(ctx, hub, connection, subs, None)
    await _follow(ctx, hub, connection, q.texts("quote"))
    answer = [{"sub": asked, "symbol": key[0], "resolution": key[1]} for asked, key in subs]
    return responses.json({"s": "ok", "subscribed": answer, "quotes": q.texts("quote")})


@ROUTES.post("/udf/streams/{stream}/unsubscribe")
async def unsubscribe(request: web.Request) -> web.StreamResponse:
    """Remove subscriptions and quotes from an open stream (unknown ones are ignored)."""
    ctx = context(request)
    hub = ctx.runtime.hub()
    connection = _connection(hub, request)
    q = CHANGE.read(request.query)
    for _, key in await resolve_subs(ctx, q.texts("sub")):
        hub.unsubscribe(connection, key)
    ctx.quotes.unfollow(connection, q.texts("quote"))
    return responses.json({"s": "ok"})
