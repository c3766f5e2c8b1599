"""`/openapi.json`: the OpenAPI 3.0 description of every endpoint and answer.

Query parameters are not written here: each endpoint's list is rendered from the
`Query` its view validates with (`candleflow.web.params`), so the schema carries
exactly the types, ranges, enums and required flags the server enforces. The answer
schemas below are checked by a Schemathesis run (tests/integration/web/test_openapi.py),
which fails on any answer the schema does not describe and on any request the schema
allows that the server refuses.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from candleflow import __version__
from candleflow.web import params, responses, udf
from candleflow.web.indicators import INDICATORS
from candleflow.web.params import Query
from candleflow.web.routing import page

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


_ERROR = _json(_ref("UdfError"), 'Bad parameter: `{"s": "error", "errmsg": ...}`')
_NOT_FOUND = _json(_ref("UdfError"), "Unknown symbol (`errmsg: unknown_symbol`)")
_UNAVAILABLE = _json(_ref("UdfError"), "Database or Kafka unreachable; see `Retry-After`")


def _errors(*, not_found: bool = False) -> dict[str, Any]:
    answers = {"400": _ERROR, "503": _UNAVAILABLE}
    if not_found:
        answers["404"] = _NOT_FOUND
    return answers


_NUMBERS = {"type": "array", "items": {"type": "number"}}
_TIMES = {"type": "array", "items": {"type": "integer"}, "description": "Bar times, unix seconds"}
_NO_DATA = {
    "type": "object",
    "required": ["s"],
    "properties": {
        "s": {"type": "string", "enum": ["no_data"]},
        "nextTime": {"type": "integer", "description": "Newest bar before `from`, unix SECONDS"},
    },
}

SCHEMAS: dict[str, Any] = {
    "UdfError": {
        "type": "object",
        "required": ["s", "errmsg"],
        "properties": {"s": {"type": "string", "enum": ["error"]}, "errmsg": {"type": "string"}},
    },
    "Config": {
        "type": "object",
        "required": ["supported_resolutions", "supports_search", "supports_group_request"],
        "properties": {
            "supported_resolutions": {"type": "array", "items": {"type": "string"}},
            "supports_search": {"type": "boolean"},
            "supports_group_request": {"type": "boolean"},
            "supports_marks": {"type": "boolean"},
            "supports_timescale_marks": {"type": "boolean"},
            "supports_time": {"type": "boolean"},
            "exchanges": {"type": "array", "items": {"type": "object"}},
            "symbols_types": {"type": "array", "items": {"type": "object"}},
        },
    },
    "SymbolInfo": {
        "type": "object",
        "required": [
            "name",
            "ticker",
            "full_name",
            "description",
            "type",
            "exchange",
            "session",
            "timezone",
            "minmov",
            "pricescale",
            "has_intraday",
            "supported_resolutions",
        ],
        "properties": {
            "name": {"type": "string"},
            "ticker": {"type": "string"},
            "full_name": {"type": "string"},
            "description": {"type": "string"},
            "type": {"type": "string"},
            "exchange": {"type": "string"},
            "listed_exchange": {"type": "string"},
            "session": {"type": "string"},
            "timezone": {"type": "string"},
            "format": {"type": "string"},
            "minmov": {"type": "integer"},
            "pricescale": {"type": "integer"},
            "has_intraday": {"type": "boolean"},
            "has_seconds": {"type": "boolean"},
            "seconds_multipliers": {"type": "array", "items": {"type": "string"}},
            "intraday_multipliers": {"type": "array", "items": {"type": "string"}},
            "has_daily": {"type": "boolean"},
            "daily_multipliers": {"type": "array", "items": {"type": "string"}},
            "has_weekly_and_monthly": {"type": "boolean"},
            "weekly_multipliers": {"type": "array", "items": {"type": "string"}},
            "monthly_multipliers": {"type": "array", "items": {"type": "string"}},
            "has_empty_bars": {"type": "boolean"},
            "supported_resolutions": {"type": "array", "items": {"type": "string"}},
            "volume_precision": {"type": "integer"},
            "visible_plots_set": {"type": "string"},
            "data_status": {"type": "string"},
            "currency_code": {"type": "string"},
        },
    },
    "SearchItem": {
        "type": "object",
        "required": ["symbol", "full_name", "description", "exchange", "ticker", "type"],
        "properties": {
            k: {"type": "string"} for k in ("symbol", "full_name", "description", "exchange", "ticker", "type")
        },
    },
    "History": {
        "anyOf": [
            {
                "type": "object",
                "required": ["s", "t", "o", "h", "l", "c", "v"],
                "properties": {
                    "s": {"type": "string", "enum": ["ok"]},
                    "t": _TIMES,
                    "o": _NUMBERS,
                    "h": _NUMBERS,
                    "l": _NUMBERS,
                    "c": _NUMBERS,
                    "v": _NUMBERS,
                },
            },
            _NO_DATA,
        ]
    },
    "Indicator": {
        "anyOf": [
            {
                "type": "object",
                "required": ["s", "t", "v"],
                "properties": {"s": {"type": "string", "enum": ["ok"]}, "t": _TIMES, "v": _NUMBERS},
            },
            _NO_DATA,
        ]
    },
    "Quotes": {
        "type": "object",
        "required": ["s", "d"],
        "properties": {
            "s": {"type": "string", "enum": ["ok"]},
            "d": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["s", "n", "v"],
                    "properties": {
                        "s": {"type": "string", "enum": ["ok", "error"]},
                        "n": {"type": "string"},
                        "v": {
                            "type": "object",
                            "properties": {
                                k: {"type": "number"}
                                for k in (
                                    "ch",
                                    "chp",
                                    "lp",
                                    "ask",
                                    "bid",
                                    "open_price",
                                    "high_price",
                                    "low_price",
                                    "prev_close_price",
                                    "volume",
                                )
                            }
                            | {k: {"type": "string"} for k in ("short_name", "exchange", "description")},
                        },
                    },
                },
            },
        },
    },
    "Marks": {
        "type": "object",
        "required": ["id", "time", "color", "text", "label", "labelFontColor", "minSize"],
        "properties": {
            "id": {"type": "array", "items": {"type": "string"}},
            "time": _TIMES,
            "color": {"type": "array", "items": {"type": "string"}},
            "text": {"type": "array", "items": {"type": "string"}},
            "label": {"type": "array", "items": {"type": "string"}},
            "signal": {"type": "array", "items": {"type": "string"}},
            "labelFontColor": {"type": "array", "items": {"type": "string"}},
            "minSize": {"type": "array", "items": {"type": "integer"}},
            "kind": {
                "type": "array",
                "items": {"type": "string"},
                "description": "What each mark is (golden_cross, death_cross, ...); not part of TradingView's UDF",
            },
        },
    },
    "TimescaleMark": {
        "type": "object",
        "required": ["id", "time", "color", "label", "tooltip"],
        "properties": {
            "id": {"type": "string"},
            "time": {"type": "integer"},
            "color": {"type": "string"},
            "label": {"type": "string"},
            "tooltip": {"type": "array", "items": {"type": "string"}},
            "shape": {"type": "string"},
            "kind": {"type": "string"},
            "signal": {"type": "string"},
        },
    },
    "Functions": {
        "type": "object",
        "required": ["s", "functions"],
        "properties": {
            "s": {"type": "string", "enum": ["ok"]},
            "functions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key", "name", "type", "values", "params"],
                    "properties": {
                        "key": {"type": "string"},
                        "name": {"type": "string"},
                        "type": {"type": "string", "enum": ["indicator", "signal"]},
                        "summary": {"type": "string"},
                        "values": {"type": "object", "additionalProperties": {"type": "number"}},
                        "params": {"type": "array", "items": {"type": "object"}},
                        "outputs": {"type": "array", "items": {"type": "string"}},
                        "state": {"type": "array", "items": {"type": "string"}},
                        "pane": {"type": "string", "enum": ["price", "own"]},
                        "warmup": {"type": "integer"},
                        "inputs": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "reason", "kafka", "database", "capability", "engine"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "degraded"]},
            "reason": {"type": "string", "nullable": True},
            "kafka": {"type": "object", "required": ["reachable"], "properties": {"reachable": {"type": "boolean"}}},
            "database": {"type": "object", "required": ["reachable"], "properties": {"reachable": {"type": "boolean"}}},
            "capability": {"type": "string", "nullable": True, "enum": ["timescaledb", "postgresql", None]},
            "engine": {"type": "object"},
        },
    },
    "Liveness": {
        "type": "object",
        "required": ["status", "reason"],
        "properties": {
            "status": {"type": "string", "enum": ["alive", "hung", "dead"]},
            "reason": {"type": "string", "nullable": True},
        },
    },
}


def _get(summary: str, query: Query | None, answers: dict[str, Any]) -> dict[str, Any]:
    parameters = query.openapi() if query is not None else []
    return {"get": {"summary": summary, "parameters": parameters, "responses": answers}}


PATHS: dict[str, Any] = {
    "/udf/config": _get(
        "DatafeedConfiguration", None, {"200": _json(_ref("Config"), "Configuration"), "503": _UNAVAILABLE}
    ),
    "/udf/time": _get("Server time", None, {"200": _json({"type": "integer"}, "Unix seconds (UTC)")}),
    "/udf/symbols": _get(
        "LibrarySymbolInfo of one symbol",
        udf.SYMBOLS,
        {"200": _json(_ref("SymbolInfo"), "Symbol"), **_errors(not_found=True)},
    ),
    "/udf/search": _get(
        "Symbol search (case-insensitive, on symbol and description)",
        udf.SEARCH,
        {"200": _json({"type": "array", "items": _ref("SearchItem")}, "Matches"), **_errors()},
    ),
    "/udf/history": _get(
        "Bars of [from, to) or the `countback` bars before `to`, whichever is more",
        udf.HISTORY,
        {
            "200": _json(_ref("History"), "Bars, or no_data (with nextTime in seconds when older data exists)"),
            **_errors(not_found=True),
        },
    ),
    "/udf/quotes": _get(
        "Last price, 24 h change and volume",
        udf.QUOTES,
        {"200": _json(_ref("Quotes"), "Quotes"), **_errors()},
    ),
    "/udf/marks": _get(
        "Every signal's marks (crossovers, user signals) as bar marks",
        udf.MARKS,
        {"200": _json(_ref("Marks"), "Column table"), **_errors(not_found=True)},
    ),
    "/udf/timescale_marks": _get(
        "Every signal's marks as time-scale marks",
        udf.MARKS,
        {"200": _json({"type": "array", "items": _ref("TimescaleMark")}, "Marks"), **_errors(not_found=True)},
    ),
    "/udf/stream": _get(
        "Live bars (Server-Sent Events: `bar`, `reset`, `: hb` heartbeats)",
        params.STREAM,
        {
            "200": {"description": "Event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
            **_errors(not_found=True),
        },
    ),
    "/api/indicators": _get(
        "One line of a registered indicator, with the time rules of /udf/history",
        INDICATORS,
        {"200": _json(_ref("Indicator"), "Series, or no_data"), **_errors(not_found=True)},
    ),
    "/api/functions": _get(
        "The registered indicators and signals with their parameters",
        None,
        {"200": _json(_ref("Functions"), "Catalogue")},
    ),
    "/healthz": _get(
        "Readiness: Kafka and database reachability, capability, engine lag and stalls",
        None,
        {
            "200": _json(_ref("Health"), "Ready"),
            "503": _json(_ref("Health"), "Kafka or database unreachable, or the engine stalled (see reason)"),
        },
    ),
    "/livez": _get(
        "Liveness: fails only when the process must be restarted (the engine's loop hung or its task dead)",
        None,
        {"200": _json(_ref("Liveness"), "Alive"), "503": _json(_ref("Liveness"), "Hung or dead: restart the process")},
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
    "/openapi.json": _get("This document", None, {"200": _json({"type": "object"}, "OpenAPI 3.0")}),
    "/": _get(
        "The chart frontend",
        None,
        {"200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}},
    ),
}

SPEC: dict[str, Any] = {
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
    "paths": PATHS,
    "components": {"schemas": SCHEMAS},
}


@page("/openapi.json")
async def openapi(request: web.Request) -> web.StreamResponse:
    """This service's OpenAPI 3.0 description."""
    return responses.json(SPEC, cache="public, max-age=300")
