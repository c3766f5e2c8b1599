"""`/api/indicators`: the stored moving averages, with the time rules of `/udf/history`.

`kind` is `sma` or `ema`, `period` one of the periods the engine keeps
(`CANDLEFLOW_MA_PERIODS`). The answer is `{"s": "ok", "t": [...], "v": [...]}`,
`{"s": "no_data", "nextTime": ...}` or `{"s": "no_data"}`, times in unix seconds.
"""

from __future__ import annotations

from aiohttp import web

from candleflow.store import queries
from candleflow.web import params, responses
from candleflow.web.errors import too_many
from candleflow.web.params import FROM, RESOLUTION, SYMBOL, TO, Param, Query
from candleflow.web.routing import database, page, settings
from candleflow.web.udf import current_bucket_s, no_data, resolve

KINDS = ("sma", "ema")

INDICATORS = Query(
    SYMBOL,
    RESOLUTION,
    Param("kind", "Average kind", required=True, enum=KINDS),
    Param(
        "period",
        "Period: one the engine keeps (`CANDLEFLOW_MA_PERIODS`)",
        type="integer",
        required=True,
        enum=settings.ma_periods,
        minimum=min(settings.ma_periods),
        maximum=max(settings.ma_periods),
    ),
    FROM,
    TO,
    params.countback(settings.max_countback),
)


@page("/api/indicators")
async def indicators(request: web.Request) -> web.StreamResponse:
    """One SMA or EMA series of a symbol and resolution, with the rules of `/udf/history`."""
    q = INDICATORS.read(request.query)
    row = await resolve(q.text("symbol"))
    res = q.resolution()
    rng = params.time_range(q)
    cap = settings.max_span_bars
    series = await queries.indicator(
        await database.pool(),
        row.symbol,
        res.code,
        q.text("kind"),
        q.integer("period", 0),
        rng.start,
        rng.end,
        rng.countback,
        cap,
    )
    if series.over_cap and not rng.countback:
        raise too_many("points", cap, res.code)
    cache = responses.history_cache(rng.end, current_bucket_s(res))
    if not series.t:
        return responses.json(no_data(series.next_time), cache=cache)
    return responses.json({"s": "ok", "t": series.t, "v": series.v}, cache=cache)
