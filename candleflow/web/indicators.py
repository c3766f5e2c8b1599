"""`/api/indicators`: the stored moving averages, with the time rules of `/udf/history`.

`kind` is `sma` or `ema`, `period` one of the periods the engine keeps
(`CANDLEFLOW_MA_PERIODS`). The answer is `{"s": "ok", "t": [...], "v": [...]}`,
`{"s": "no_data", "nextTime": ...}` or `{"s": "no_data"}`, times in unix seconds.
"""

from __future__ import annotations

from aiohttp import web

from candleflow.store import queries
from candleflow.web import params, responses
from candleflow.web.errors import UdfError
from candleflow.web.routing import database, page, settings
from candleflow.web.udf import current_bucket_s, no_data, resolve

KINDS = ("sma", "ema")


@page("/api/indicators")
async def indicators(request: web.Request) -> web.StreamResponse:
    """One SMA or EMA series of a symbol and resolution."""
    q = request.query
    row = await resolve(params.text(q, "symbol"))
    res = params.resolution(q)
    kind = params.text(q, "kind").lower()
    if kind not in KINDS:
        raise UdfError(f"kind={kind[:20]!r} is not one of {', '.join(KINDS)}")
    kept = settings.ma_periods
    period = params.integer(q, "period", minimum=1, maximum=max(kept))
    if period not in kept:
        raise UdfError(f"period={period} is not kept; kept periods: {', '.join(map(str, kept))}")
    rng = params.time_range(q, res, max_countback=settings.max_countback, max_span_bars=settings.max_span_bars)
    series = await queries.indicator(
        await database.pool(), row.symbol, res.code, kind, period, rng.start, rng.end, rng.countback
    )
    cache = responses.history_cache(rng.end, current_bucket_s(res))
    if not series.t:
        return responses.json(no_data(series.next_time), cache=cache)
    return responses.json({"s": "ok", "t": series.t, "v": series.v}, cache=cache)
