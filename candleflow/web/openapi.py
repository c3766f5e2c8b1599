"""`/openapi.json`: the OpenAPI 3.0 description of every endpoint and answer.

Query parameters are not written here: each endpoint's list is rendered from the
`Query` its view validates with (`candleflow.web.params`), so the schema carries
exactly the types, ranges, enums and required flags the server enforces (those that
depend on the settings, such as `countback`'s maximum, included: the document is built
per application, `spec`). The answer schemas (`candleflow.web.openapi_schemas`) are
checked by a Schemathesis run (tests/integration/web/test_openapi.py), which fails on
any answer the schema does not describe and on any request the schema allows that the
server refuses.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from candleflow import __version__
from candleflow.core.settings import Settings
from candleflow.replay.events import KINDS
from candleflow.web import replay, replay_controls, responses, sse, streams, udf
from candleflow.web.context import context
from candleflow.web.indicators import indicators_query
from candleflow.web.openapi_schemas import ERROR, SCHEMAS, UNAVAILABLE, errors, json_answer, ref
from candleflow.web.params import Query

#: The routes of this module's views (`candleflow.web.routes` gathers every module's).
ROUTES = web.RouteTableDef()


def _get(summary: str, query: Query | None, answers: dict[str, Any]) -> dict[str, Any]:
    return _operation("get", summary, query, answers)


def _operation(method: str, summary: str, query: Query | None, answers: dict[str, Any]) -> dict[str, Any]:
    parameters = query.openapi() if query is not None else []
    return {method: {"summary": summary, "parameters": parameters, "responses": answers}}


_EVENTS = {"description": "Event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}}
_STREAM_ID = {
    "name": "stream",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 32, "maxLength": 32, "pattern": "^[0-9a-f]{32}$"},
    "description": "The stream's id, from its `hello` event (32 hexadecimal digits)",
}


_REPLAY_ID = {
    **_STREAM_ID,
    "name": "replay",
    "description": "The replay's id, from its `hello` event (32 hexadecimal digits)",
}
_STREAM_EVENTS = (
    "Server-Sent Events: `hello` {stream}; per sub `subscribed` then its current `bar`, later `bar`, "
    "`correction` (an older bar changed: apply it in place) and `reset` (refetch that series' history); per "
    '`quote` a `quote` event, an item of `/udf/quotes` (`{"s", "n", "v"}`), at once and then at most every '
    "0.5 s while the symbol's 1-minute bar changes; `: hb` heartbeats. Events carry ids; `Last-Event-ID` resumes."
)
STREAM_KINDS = ("hello", "subscribed", "bar", "correction", "reset", "quote")
_REPLAY_EVENTS = (
    "Server-Sent Events, each with the replay clock `clock_ms` (unix ms): `hello` {replay, series [{symbol, "
    "resolution, history_to}], speed, paused} (the bars before come from `/udf/history` with `to=history_to`); "
    "`bar` and `correction` (bars as they formed, and the corrections late ticks caused); `indicators` "
    "{symbol, resolution, from, to, bars [{time, values}], marks} as bars close; `reset` {symbol, resolution, "
    "from, to} (refetch that range from the store); `clock` {speed, paused}; `caught_up` (the present: close "
    "the stream and go live); `: hb` heartbeats."
)


def _events(description: str, kinds: tuple[str, ...]) -> dict[str, Any]:
    """An event stream; the `schema` of `text/event-stream` describes one of its events
    (its `data` is JSON, described in words: OpenAPI 3.0 has no schema for a stream)."""
    event = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "event": {"type": "string", "enum": list(kinds)},
            "data": {"type": "string", "description": "JSON"},
            "id": {"type": "string"},
            "retry": {"type": "integer"},
        },
    }
    return {"description": description, "content": {"text/event-stream": {"schema": event}}}


def _stream_change(summary: str, answer: dict[str, Any]) -> dict[str, Any]:
    operation = _operation("post", summary, streams.CHANGE, {"200": answer, **errors(not_found=True)})
    operation["post"]["parameters"].insert(0, _STREAM_ID)
    return operation


def _replay_control(action: str, query: Query) -> dict[str, Any]:
    answers = {
        "200": json_answer(ref("Clock"), "The replay clock after the control"),
        "400": ERROR,
        "404": json_answer(ref("UdfError"), "No running replay has this id (`errmsg: unknown_replay`)"),
    }
    operation = _operation(
        "post", f"Replay control: {action} (the stream tells it with a `clock` event)", query, answers
    )
    operation["post"]["parameters"].insert(0, _REPLAY_ID)
    return operation


def paths(settings: Settings) -> dict[str, Any]:
    """Every path and method, its parameters rendered from the `Query` its view reads."""
    history = udf.history_query(settings.max_countback)
    return {
        "/udf/config": _get(
            "DatafeedConfiguration", None, {"200": json_answer(ref("Config"), "Configuration"), "503": UNAVAILABLE}
        ),
        "/udf/time": _get("Server time", None, {"200": json_answer({"type": "integer"}, "Unix seconds (UTC)")}),
        "/udf/symbols": _get(
            "LibrarySymbolInfo of one symbol",
            udf.SYMBOLS,
            {"200": json_answer(ref("SymbolInfo"), "Symbol"), **errors(not_found=True)},
        ),
        "/udf/search": _get(
            "Symbol search (case-insensitive, on symbol and description)",
            udf.SEARCH,
            {"200": json_answer({"type": "array", "items": ref("SearchItem")}, "Matches"), **errors()},
        ),
        "/udf/history": _get(
            "Bars of [from, to) or the `countback` bars before `to`, whichever is more",
            history,
            {
                "200": json_answer(
                    ref("History"), "Bars, or no_data (with nextTime in seconds when older data exists)"
                ),
                **errors(not_found=True),
            },
        ),
        "/udf/quotes": _get(
            "Last price, 24 h change and volume",
            udf.QUOTES,
            {"200": json_answer(ref("Quotes"), "Quotes"), **errors()},
        ),
        "/udf/marks": _get(
            "Every signal's marks (crossovers, user signals) as bar marks",
            udf.MARKS,
            {"200": json_answer(ref("Marks"), "Column table"), **errors(not_found=True)},
        ),
        "/udf/timescale_marks": _get(
            "Every signal's marks as time-scale marks",
            udf.MARKS,
            {"200": json_answer({"type": "array", "items": ref("TimescaleMark")}, "Marks"), **errors(not_found=True)},
        ),
        "/udf/stream": _get(
            "Live bars (Server-Sent Events: `bar`, `reset`, `: hb` heartbeats)",
            sse.STREAM,
            {"200": _EVENTS, **errors(not_found=True)},
        ),
        "/udf/streams": _get(
            "Live bars of any number of series and quotes of any number of symbols on one connection",
            streams.OPEN,
            {"200": _events(_STREAM_EVENTS, STREAM_KINDS), **errors(not_found=True)},
        ),
        "/udf/streams/{stream}/subscribe": _stream_change(
            "Add series or quotes to an open stream; their current bars and quotes follow on it",
            json_answer(ref("Subscribed"), "The series added, as asked and as their events name them, and the quotes"),
        ),
        "/udf/streams/{stream}/unsubscribe": _stream_change(
            "Remove series or quotes from an open stream (those it does not hold are ignored)",
            json_answer(ref("Ok"), "Done"),
        ),
        "/udf/replay": _get(
            "Bar Replay: the market of one or several series from a past time, paced, controllable",
            replay.REPLAY,
            {
                "200": _events(_REPLAY_EVENTS, KINDS),
                **errors(not_found=True),
                "503": json_answer(
                    ref("UdfError"),
                    "Too many replays (`CANDLEFLOW_REPLAY_MAX`) or Kafka unreachable; see `Retry-After`",
                ),
            },
        ),
        **{
            replay_controls.path(action): _replay_control(action, query)
            for action, (query, _) in replay_controls.CONTROLS.items()
        },
        "/api/indicators": _get(
            "One line of a registered indicator, with the time rules of /udf/history",
            indicators_query(settings.max_countback),
            {"200": json_answer(ref("Indicator"), "Series, or no_data"), **errors(not_found=True)},
        ),
        "/api/functions": _get(
            "The registered indicators and signals with their parameters",
            None,
            {"200": json_answer(ref("Functions"), "Catalogue")},
        ),
        "/healthz": _get(
            "Readiness: Kafka and database reachability, capability, engine lag and stalls",
            None,
            {
                "200": json_answer(ref("Health"), "Ready"),
                "503": json_answer(ref("Health"), "Kafka or database unreachable, or the engine stalled (see reason)"),
            },
        ),
        "/livez": _get(
            "Liveness: fails only when the process must be restarted (the engine's loop hung or its task dead)",
            None,
            {
                "200": json_answer(ref("Liveness"), "Alive"),
                "503": json_answer(ref("Liveness"), "Hung or dead: restart the process"),
            },
        ),
        "/metrics": _get(
            "Prometheus metrics",
            None,
            {
                "200": {
                    "description": "Prometheus text format 0.0.4",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        ),
        "/openapi.json": _get("This document", None, {"200": json_answer({"type": "object"}, "OpenAPI 3.0")}),
        "/": _get(
            "The chart frontend",
            None,
            {"200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}},
        ),
    }


def spec(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document of a web application built from `settings`."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "candleflow",
            "version": __version__,
            "description": (
                "TradingView UDF datafeed with Server-Sent Events live bars. Every answer carries "
                '`Access-Control-Allow-Origin: *`; errors are `{"s": "error", "errmsg": ...}`.'
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths(settings),
        "components": {"schemas": SCHEMAS},
    }


@ROUTES.get("/openapi.json")
async def openapi(request: web.Request) -> web.StreamResponse:
    """This service's OpenAPI 3.0 description."""
    return responses.json(context(request).spec, cache="public, max-age=300")
