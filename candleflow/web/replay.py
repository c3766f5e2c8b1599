"""`/udf/replay`: Bar Replay of one or several series as Server-Sent Events.

    GET /udf/replay?symbol=…&resolution=…&from=<unix s>[&speed=N|max][&paused=true][&sub=<symbol>|<resolution>…]

The stream replays the market of the series from `from` as it unfolded, from the tick
log (`candleflow.replay`): `hello` (the replay's id, the series and the `to` of the
history each one continues), then `bar`, `correction`, `indicators`, `reset` and
`clock` events, each carrying the replay clock (`clock_ms`), and `caught_up` when the
replay reaches the present; the stream ends there (the client closes its EventSource
and goes live). The replay runs while the connection lasts and belongs to it: the
controls (`candleflow.web.replay_controls`) name it by the id `hello` gave. Past
`CANDLEFLOW_REPLAY_MAX` replays at once (`WebContext.replays`), new ones get 503 with
`Retry-After`; a client holds replays and live streams within one per-client cap
(`CANDLEFLOW_SSE_MAX_PER_CLIENT`, 429 past it). With access tokens a replay needs a
token that allows its symbols, and only its holder may control it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time

import orjson
from aiohttp import web

from candleflow.domain.resolution import Resolution
from candleflow.kafka.exceptions import LogUnavailable, TopicError
from candleflow.kafka.log_reader import LogReader
from candleflow.replay.clock import ClockError, check_speed
from candleflow.replay.events import Event
from candleflow.replay.log import ReplayError
from candleflow.replay.session import Pacing, Replay
from candleflow.web import event_stream, params, rules
from candleflow.web.connection import event
from candleflow.web.context import WebContext, context
from candleflow.web.errors import UdfError, unavailable
from candleflow.web.event_stream import HEARTBEAT, STREAM_HEADERS, write_timeout
from candleflow.web.params import MAX_TIME, RESOLUTION, SYMBOL, Param, Query
from candleflow.web.streams import SUB
from candleflow.web.udf import resolve

#: The routes of this module's views (`candleflow.web.routes` gathers every module's).
ROUTES = web.RouteTableDef()

log = logging.getLogger(__name__)

#: Series one replay may hold.
MAX_SERIES = 8
RETRY_AFTER_S = 10
#: Bytes Kafka hands a replay per partition fetch: a replay reads a chunk at a time.
FETCH_BYTES = 256 * 1024
#: `speed`: 1 to 10,000 (up to three decimals) or `max`.
SPEED_PATTERN = r"max|10000(?:\.0{1,3})?|[1-9][0-9]{0,3}(?:\.[0-9]{1,3})?"
#: A replay is not resumed (the client closes it at `caught_up`): no EventSource retry.
NO_RETRY = b"retry: 86400000\n\n"

SPEED = Param(
    "speed",
    "Replay speed: event-time ms per wall-clock ms, 1 to 10000, or `max` (as fast as the log is read); default 1",
    max_length=9,
    pattern=SPEED_PATTERN,
    example="60",
)
REPLAY = Query(
    dataclasses.replace(SYMBOL, doc="The series' symbol"),
    dataclasses.replace(RESOLUTION, doc="The series' resolution", example="1"),
    Param("from", "Start of the replay, unix seconds", type="integer", required=True, minimum=0, maximum=MAX_TIME),
    SPEED,
    Param("paused", "`true`: start paused (play with the `resume` control)", enum=("true", "false")),
    dataclasses.replace(
        SUB,
        doc="More series replayed with it: `<symbol>|<resolution>`; repeat for more",
        max_items=MAX_SERIES - 1,
    ),
)


def parse_speed(raw: str) -> float | None:
    """A validated `speed` value: None for `max`."""
    return None if raw == "max" else float(raw)


async def series_of(request: web.Request, q: params.Values) -> list[tuple[str, Resolution]]:
    """The series asked for: `symbol` + `resolution`, then every `sub` (404: unknown
    symbol; 403: one the request's token does not allow)."""
    asked = [((await resolve(request, q.text("symbol"))).symbol, q.resolution())]
    for sub in q.texts("sub"):
        name, _, code = sub.rpartition("|")
        asked.append(((await resolve(request, name)).symbol, params.resolution_of(code)))
    return list(dict.fromkeys(asked))


@ROUTES.get("/udf/replay", allow_head=False)
@rules.read
async def open_replay(request: web.Request) -> web.StreamResponse:
    """Start a replay and stream it (see the module docstring)."""
    ctx = context(request)
    q = REPLAY.read(request.query)
    series = await series_of(request, q)
    with event_stream.client_stream(ctx, request):
        return await _replay(request, ctx, q, series)


async def _replay(
    request: web.Request, ctx: WebContext, q: params.Values, series: list[tuple[str, Resolution]]
) -> web.StreamResponse:
    try:
        speed = check_speed(parse_speed(q.text("speed") or "1"))
    except ClockError as exc:
        raise UdfError(str(exc)) from None
    replays = ctx.replays
    if replays.full():
        raise UdfError(
            f"too many replays running (limit {replays.limit}), retry later", 503, {"Retry-After": str(RETRY_AFTER_S)}
        )
    settings = ctx.settings
    pacing = Pacing(window=settings.replay_window)
    replay = Replay(
        series,
        q.integer("from", 0) * 1000,
        reader=LogReader(ctx.kafka, settings.ticks_topic, max_records=pacing.chunk, partition_fetch_bytes=FETCH_BYTES),
        db=await ctx.reads.connected(),
        functions=ctx.functions,
        future_tolerance_s=settings.future_tolerance,
        speed=speed,
        paused=q.text("paused") == "true",
        pacing=pacing,
        chunks=replays.chunks,
    )
    replays.add(replay, rules.grant(request).holder)  # its slot is taken now: concurrent starts cannot pass the cap
    try:
        try:
            await replay.prepare()
        except ReplayError as exc:
            raise UdfError(str(exc)) from None
        except (LogUnavailable, TopicError):
            raise unavailable("kafka", RETRY_AFTER_S) from None
        try:
            return await _stream(request, replay, settings.sse_heartbeat)
        finally:
            await replay.close()
    finally:
        replays.remove(replay)


async def _stream(request: web.Request, replay: Replay, heartbeat: float) -> web.StreamResponse:
    """Run `replay`, writing its events and heartbeats until it catches up, the client
    goes or stops reading, or the process stops it."""
    response = web.StreamResponse(headers=STREAM_HEADERS)
    await response.prepare(request)
    timeout = write_timeout(heartbeat)
    last_write = time.monotonic()

    async def write(data: bytes) -> None:
        nonlocal last_write
        async with asyncio.timeout(timeout):
            await response.write(data)
        last_write = time.monotonic()

    async def emit(events: list[Event]) -> None:
        await write(b"".join(event(e.kind.encode(), orjson.dumps(e.data)) for e in events))

    async def heartbeats() -> None:
        while True:
            await asyncio.sleep(max(0.0, last_write + heartbeat - time.monotonic()))
            if time.monotonic() - last_write >= heartbeat:
                await write(HEARTBEAT)

    await write(NO_RETRY)
    beating = asyncio.create_task(heartbeats())
    running = asyncio.create_task(replay.run(emit))
    try:
        await asyncio.wait({beating, running}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            running.result()
    except (ConnectionError, RuntimeError, TimeoutError) as exc:  # the client went away or stopped reading
        log.debug("replay %s ended: %r", replay.id, exc)
    except Exception as exc:  # the log or the database failed mid-stream: end it, the client may retry
        log.warning("replay %s failed: %r", replay.id, exc)
    finally:
        for task in (beating, running):
            task.cancel()
        for task in (beating, running):
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError, TimeoutError):
                await task
    return response
