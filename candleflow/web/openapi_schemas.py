"""The answer schemas of `/openapi.json` (`candleflow.web.openapi` builds the document):
every body the web layer sends, described once. The Schemathesis run
(tests/integration/web/test_openapi.py) fails on any answer they do not describe."""

from __future__ import annotations

from typing import Any

JSON = "application/json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_answer(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


ERROR = json_answer(ref("UdfError"), 'Bad parameter: `{"s": "error", "errmsg": ...}`')
NOT_FOUND = json_answer(ref("UdfError"), "Unknown symbol (`errmsg: unknown_symbol`)")
UNAVAILABLE = json_answer(ref("UdfError"), "Database or Kafka unreachable, or busy; see `Retry-After`")
RATE_LIMITED = json_answer(
    ref("UdfError"), "Too many requests, streams or subscriptions for this client; see `Retry-After`"
)
UNAUTHORIZED = json_answer(ref("UdfError"), "No access token, or an expired or forged one")
FORBIDDEN = json_answer(ref("UdfError"), "The access token does not allow this symbol, stream or route")
#: How a client sends its access token (`CANDLEFLOW_ACCESS=tokens`; docs/web.md).
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "cookie": {"type": "apiKey", "in": "cookie", "name": "candleflow_token"},
    "query": {"type": "apiKey", "in": "query", "name": "token"},
}


def errors(*, not_found: bool = False) -> dict[str, Any]:
    answers = {"400": ERROR, "503": UNAVAILABLE}
    if not_found:
        answers["404"] = NOT_FOUND
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
    "Ok": {"type": "object", "required": ["s"], "properties": {"s": {"type": "string", "enum": ["ok"]}}},
    "Subscribed": {
        "type": "object",
        "required": ["s", "subscribed"],
        "properties": {
            "s": {"type": "string", "enum": ["ok"]},
            "subscribed": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["sub", "symbol", "resolution"],
                    "properties": {k: {"type": "string"} for k in ("sub", "symbol", "resolution")},
                },
            },
            "quotes": {"type": "array", "items": {"type": "string"}, "description": "The quotes added, as asked"},
        },
    },
    "Clock": {
        "type": "object",
        "required": ["s", "clock_ms", "speed", "paused"],
        "properties": {
            "s": {"type": "string", "enum": ["ok"]},
            "clock_ms": {"type": "integer", "description": "The replay clock, unix ms"},
            "speed": {"type": "number", "nullable": True, "description": "Event-time ms per wall-clock ms; null: max"},
            "paused": {"type": "boolean"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "reason", "role", "kafka", "database", "capability", "replica", "engine"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "degraded"]},
            "reason": {"type": "string", "nullable": True},
            "role": {"type": "string", "enum": ["all", "engine", "web"]},
            "replica": {
                "type": "object",
                "nullable": True,
                "description": "the read replica (CANDLEFLOW_DATABASE_READ_URL); null without one",
                "properties": {
                    "reads_from": {"type": "string", "enum": ["replica", "primary", "none"]},
                    "lag_s": {"type": "number", "nullable": True},
                },
            },
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
