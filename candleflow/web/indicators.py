"""`/api/indicators` and `/api/functions`: the stored values of any registered indicator,
and the catalogue of what this worker computes.

`/api/indicators?symbol=…&resolution=…&kind=NAME[&PARAM=value…][&output=LINE]` names an
indicator by its name (`kind`, e.g. `sma`, `rsi`, `bollinger`) and parameters (missing
ones take their defaults, so `kind=sma&period=20` still works); it must be one the
configuration registers (`/api/functions` lists them). `output` picks a line of a
multi-line indicator (Bollinger's `upper`; default: the first). The answer is
`{"s": "ok", "t": [...], "v": [...]}`, `{"s": "no_data", "nextTime": ...}` or
`{"s": "no_data"}`, times in unix seconds, with the time rules of `/udf/history`.
"""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web

from candleflow.functions.api import Function, FunctionConfigError, Indicator, Signal
from candleflow.functions.registry import FunctionSet
from candleflow.store import queries
from candleflow.web import params, responses, rules
from candleflow.web.context import context
from candleflow.web.errors import UdfError, too_many
from candleflow.web.params import FROM, RESOLUTION, SYMBOL, TO, Param, Query, Values
from candleflow.web.udf import current_bucket_s, no_data, resolve

#: The routes of this module's views (`candleflow.web.routes` gathers every module's).
ROUTES = web.RouteTableDef()

#: Query parameters of the request itself; every other one is a parameter of the function.
REQUEST_PARAMETERS = frozenset({"symbol", "resolution", "kind", "output", "from", "to", "countback"})
#: Longest value of a function parameter given in the query.
MAX_VALUE_LENGTH = 40


@functools.cache
def indicators_query(max_countback: int) -> Query:
    """`/api/indicators`' declared parameters under `CANDLEFLOW_MAX_COUNTBACK`."""
    return Query(*_INDICATOR_PARAMS, params.countback(max_countback))


_INDICATOR_PARAMS = (
    SYMBOL,
    RESOLUTION,
    Param(
        "kind",
        "Name of a registered indicator (`/api/functions`), e.g. `sma`, `ema`, `rsi`; "
        "an indicator that is not registered with these parameters is 404",
        required=True,
        min_length=1,
        max_length=MAX_VALUE_LENGTH,
        pattern="[A-Za-z][A-Za-z0-9_]*",
        example="sma",
    ),
    Param(
        "period",
        "The indicator's `period` parameter; any other declared parameter of the function is passed the same way",
        type="integer",
        minimum=1,
        maximum=100_000,
        example=20,
    ),
    Param(
        "output",
        "Line of a multi-line indicator (default: its first, see `/api/functions`)",
        max_length=MAX_VALUE_LENGTH,
        pattern="[A-Za-z0-9_]*",
    ),
    FROM,
    TO,
)


def indicator_of(functions: FunctionSet, arguments: dict[str, str], values: Values) -> tuple[Indicator, str]:
    """The registered indicator and output line a request names (404 when none is)."""
    try:
        found = functions.find(values.text("kind").lower(), arguments)
    except FunctionConfigError as exc:
        raise UdfError(str(exc), 404) from None
    if not isinstance(found, Indicator):
        raise UdfError(f"{found.key} is a signal: its marks are served by /udf/marks", 404)
    output = values.text("output") or found.outputs[0]
    if output not in found.outputs:
        raise UdfError(f"output={output!r} is not a line of {found.key} (lines: {', '.join(found.outputs)})", 404)
    return found, output


@ROUTES.get("/api/indicators")
@rules.read
async def indicators(request: web.Request) -> web.StreamResponse:
    """One line of a registered indicator for a symbol and resolution, with the rules of `/udf/history`."""
    ctx = context(request)
    q = indicators_query(ctx.settings.max_countback).read(request.query)
    row = await resolve(request, q.text("symbol"))
    res = q.resolution()
    indicator, output = indicator_of(
        ctx.functions, params.extras(request.query, REQUEST_PARAMETERS, MAX_VALUE_LENGTH), q
    )
    kind, period = indicator.stored(output)
    rng = params.time_range(q)
    cap = ctx.settings.max_span_bars
    series = await queries.indicator(
        await ctx.reads.connected(),
        row.symbol,
        res.code,
        kind,
        period,
        rng.start,
        rng.end,
        rng.countback,
        cap,
    )
    if series.over_cap and not rng.countback:
        raise too_many("points", cap, res.code)
    cache = responses.history_cache(rng.end, current_bucket_s(res))
    if not len(series.t):
        return responses.json(no_data(series.next_time), cache=cache)
    return responses.json({"s": "ok", "t": series.t, "v": series.v}, cache=cache)


def describe(function: Function) -> dict[str, Any]:
    """One catalogue entry: what the chart needs to list, request and draw a function."""
    entry: dict[str, Any] = {
        "key": function.key,
        "name": function.name,
        "summary": function.summary,
        "values": dict(function.values),
        "params": [p.describe() for p in function.params],
    }
    if isinstance(function, Indicator):
        entry |= {
            "type": "indicator",
            "outputs": list(function.outputs),
            "state": list(function.state),
            "pane": function.pane,
            "warmup": function.warmup,
        }
    elif isinstance(function, Signal):
        entry |= {"type": "signal", "inputs": [i.key for i in function.inputs()]}
    return entry


@ROUTES.get("/api/functions")
@rules.read
async def catalogue(request: web.Request) -> web.StreamResponse:
    """The indicators and signals this worker computes, with their parameters."""
    functions = context(request).functions
    entries = [describe(f) for f in (*functions.indicators, *functions.signals)]
    return responses.json({"s": "ok", "functions": entries}, cache="public, max-age=60")
