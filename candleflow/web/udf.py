"""The TradingView UDF endpoints under `/udf` (docs/web.md describes them and their rules).

`config`, `symbols`, `search`, `history`, `time`, `quotes`, `marks` and
`timescale_marks`. Group requests are not offered (`supports_group_request: false`),
so there is no `symbol_info`. Times are unix seconds everywhere, `nextTime` included.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from aiohttp import web

from candleflow.domain.resolution import Resolution
from candleflow.domain.symbols import CHARACTERS, MAX_LENGTH
from candleflow.store import queries
from candleflow.store.queries import Mark, SymbolRow
from candleflow.web import params, responses, rules, symbol_info
from candleflow.web.context import context
from candleflow.web.errors import UdfError, too_many
from candleflow.web.params import FROM, MARKS_FROM, MARKS_TO, RESOLUTION, SYMBOL, TO, Param, Query
from candleflow.web.quotes import quote_items

#: The routes of this module's views (`candleflow.web.routes` gathers every module's).
ROUTES = web.RouteTableDef()

SEARCH_LIMIT = 30
QUOTES_MAX_SYMBOLS = 100
#: A mark's tone -> (colour, time-scale mark shape).
TONE_STYLE = {
    "up": ("green", "earningUp"),
    "down": ("red", "earningDown"),
    "neutral": ("blue", "earning"),
}

SYMBOLS = Query(SYMBOL)
SEARCH = Query(
    Param("query", "Text to look for in symbol and description (any case); empty lists symbols"),
    Param("type", "Symbol type filter (`crypto`); empty: any"),
    Param("exchange", "Exchange filter (any case); empty: any"),
    Param(
        "limit", f"Most items wanted; answers hold at most {SEARCH_LIMIT}", type="integer", minimum=1, maximum=1_000_000
    ),
)


@functools.cache
def history_query(max_countback: int) -> Query:
    """`/udf/history`'s parameters under `CANDLEFLOW_MAX_COUNTBACK`."""
    return Query(SYMBOL, RESOLUTION, FROM, TO, params.countback(max_countback))


_NAME = f"{CHARACTERS}{{0,{MAX_LENGTH}}}"
QUOTES = Query(
    Param(
        "symbols",
        f"Comma-separated symbols (as for `symbol`), at most {QUOTES_MAX_SYMBOLS}; empty items are skipped",
        required=True,
        min_length=1,
        max_length=QUOTES_MAX_SYMBOLS * (MAX_LENGTH + 1),
        pattern=f"{_NAME}(?:,{_NAME}){{0,{QUOTES_MAX_SYMBOLS - 1}}}",
        example="Coinbase:BTC/USD,Kraken:ETH/USD",
    )
)
MARKS = Query(SYMBOL, RESOLUTION, MARKS_FROM, MARKS_TO)


#: The `errmsg` of a symbol the datafeed does not know (the name the Datafeed API uses).
UNKNOWN_SYMBOL = "unknown_symbol"


async def resolve(request: web.Request, name: str) -> SymbolRow:
    """The stored symbol `name` refers to, or `unknown_symbol` (404); `AccessDenied` (403)
    when the request's token does not allow it (checked on the canonical symbol, so no
    alias reaches a market the token does not name)."""
    ctx = context(request)
    row = await ctx.symbols.find(await ctx.reads.connected(), name)
    if row is None:
        raise UdfError(UNKNOWN_SYMBOL, 404)
    rules.grant(request).require(row.symbol)
    return row


def current_bucket_s(res: Resolution) -> int:
    """Start (seconds) of the bucket the wall clock is in: the live bar's time."""
    return res.floor(int(time.time() * 1000)) // 1000


@ROUTES.get("/udf/config")
@rules.read
async def config(request: web.Request) -> web.StreamResponse:
    """DatafeedConfiguration: resolutions, capabilities, exchanges present."""
    exchanges = await queries.exchanges(await context(request).reads.connected())
    return responses.json(symbol_info.config(exchanges))


@ROUTES.get("/udf/time")
@rules.public
async def server_time(request: web.Request) -> web.StreamResponse:
    """Server time: a bare number of unix seconds (UTC)."""
    return responses.json(int(time.time()), cache=responses.NO_STORE)


@ROUTES.get("/udf/symbols")
@rules.read
async def symbols(request: web.Request) -> web.StreamResponse:
    """LibrarySymbolInfo of one symbol; `unknown_symbol` (404) otherwise."""
    row = await resolve(request, SYMBOLS.read(request.query).text("symbol"))
    return responses.json(symbol_info.library_symbol_info(row))


@ROUTES.get("/udf/search")
@rules.read
async def search(request: web.Request) -> web.StreamResponse:
    """Symbols whose name or description contains `query` (any case); empty lists all."""
    q = SEARCH.read(request.query)
    query, exchange, symbol_type = q.text("query"), q.text("exchange"), q.text("type")
    limit = min(q.integer("limit", SEARCH_LIMIT), SEARCH_LIMIT)
    rows = await queries.all_symbols(await context(request).reads.connected())
    grant = rules.grant(request)
    found = [r for r in rows if grant.allows(r.symbol) and symbol_info.matches(r, query, exchange, symbol_type)]
    found.sort(key=lambda r: symbol_info.search_rank(r, query))
    return responses.json([symbol_info.search_item(r) for r in found[:limit]])


@ROUTES.get("/udf/history")
@rules.read
async def history(request: web.Request) -> web.StreamResponse:
    """Bars of `[from, to)` or the `countback` bars before `to`, whichever is more;
    `no_data` with `nextTime`. Without countback, a range holding more bars than
    `CANDLEFLOW_MAX_SPAN_BARS` is refused; with it, the newest that many are served."""
    ctx = context(request)
    q = history_query(ctx.settings.max_countback).read(request.query)
    row = await resolve(request, q.text("symbol"))
    res = q.resolution()
    rng = params.time_range(q)
    cap = ctx.settings.max_span_bars
    db = await ctx.reads.connected()
    bars = await queries.history(db, row.symbol, res.code, rng.start, rng.end, rng.countback, cap)
    if bars.over_cap and not rng.countback:
        raise too_many("bars", cap, res.code)
    cache = responses.history_cache(rng.end, current_bucket_s(res))
    if not len(bars.t):
        return responses.json(no_data(bars.next_time), cache=cache)
    body = {"s": "ok", "t": bars.t, "o": bars.o, "h": bars.h, "l": bars.l, "c": bars.c, "v": bars.v}
    return responses.json(body, cache=cache)


def no_data(next_time: int | None) -> dict[str, Any]:
    """`{"s": "no_data"}`, with `nextTime` (seconds) when older data exists."""
    return {"s": "no_data"} if next_time is None else {"s": "no_data", "nextTime": next_time}


@ROUTES.get("/udf/quotes")
@rules.read
async def quotes(request: web.Request) -> web.StreamResponse:
    """Last price, 24 h change and volume per symbol, from the 1-minute bars; a symbol
    unknown, or one the request's token does not allow, is an item with `"s": "error"`."""
    raw = QUOTES.read(request.query).text("symbols")
    names = list(dict.fromkeys(n for n in raw.split(",") if n))
    ctx = context(request)
    db = await ctx.reads.connected()
    return responses.json({"s": "ok", "d": await quote_items(db, ctx.symbols, names, rules.grant(request).allows)})


async def _marks_of(request: web.Request) -> tuple[list[Mark], str]:
    """Marks of `from <= time <= to` (empty when `to` is before `from`); a range holding
    more than `CANDLEFLOW_MAX_SPAN_BARS` marks is refused."""
    ctx = context(request)
    q = MARKS.read(request.query)
    row = await resolve(request, q.text("symbol"))
    res = q.resolution()
    end = q.integer("to", 0)
    start = q.integer("from", end)
    cap = ctx.settings.max_span_bars
    found = await queries.marks(
        await ctx.reads.connected(), row.symbol, res.code, params.clamp_time(start), params.clamp_time(end), cap + 1
    )
    if len(found) > cap:
        raise too_many("marks", cap, res.code, countback_helps=False)
    return found, responses.history_cache(end + 1, current_bucket_s(res))


def _style(mark: Mark) -> tuple[str, str]:
    return TONE_STYLE.get(mark.tone, TONE_STYLE["neutral"])


@ROUTES.get("/udf/marks")
@rules.read
async def marks(request: web.Request) -> web.StreamResponse:
    """Every signal's marks as bar marks (column table), `from <= time <= to`.

    Beside TradingView's columns, `kind` names what each mark is (`golden_cross`,
    `close_above_ema`, ...) and `signal` the function that made it, so a client need
    not guess from colour or text; the stock UDF adapter ignores the extra columns.
    """
    found, cache = await _marks_of(request)
    return responses.json(
        {
            "id": [f"{m.signal}-{m.time}" for m in found],
            "time": [m.time for m in found],
            "color": [_style(m)[0] for m in found],
            "text": [m.text for m in found],
            "label": [m.label for m in found],
            "kind": [m.kind for m in found],
            "signal": [m.signal for m in found],
            "labelFontColor": ["white" for _ in found],
            "minSize": [14 for _ in found],
        },
        cache=cache,
    )


@ROUTES.get("/udf/timescale_marks")
@rules.read
async def timescale_marks(request: web.Request) -> web.StreamResponse:
    """Every signal's marks as time-scale marks, `from <= time <= to`."""
    found, cache = await _marks_of(request)
    return responses.json(
        [
            {
                "id": f"{m.signal}-{m.time}",
                "time": m.time,
                "color": _style(m)[0],
                "label": m.label,
                "tooltip": [m.text],
                "shape": _style(m)[1],
                "kind": m.kind,
                "signal": m.signal,
            }
            for m in found
        ],
        cache=cache,
    )
