"""`bench_history.py --breakdown`: the ways of building a history answer, timed from the
benchmark process on the same random ranges, in a shuffled order per range.

* `sql_rows (baseline)`: the bare row query, rows decoded, nothing built;
* `served`: `candleflow.store.queries.history` (rows packed into one bytea in scan order,
  unpacked by numpy), then orjson on the arrays, as the endpoint does;
* `column arrays`: the statement before it, `array_agg` per column in scan order, decoded
  into lists, reversed, then orjson;
* `rows`: the same rows with int8 seconds decoded one by one, turned into columns by
  `zip`, then orjson: as fast or a little faster here, but in the worker a few thousand
  records alive at once set off full garbage collections of 60-75 ms (p99);
* `columns sorted in SQL`: `array_agg … ORDER BY` per column, then orjson;
* `JSON text from PostgreSQL`: the whole answer built by `json_build_object`.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson

from bench.bench_history import COUNTBACKS, MINUTE_S, PLAIN_SQL
from candleflow.store import queries
from candleflow.store.newest import to_datetime

_PICKED = """
    SELECT bucket, date_part('epoch', bucket)::int8 AS t, open, high, low, close, volume::float8 AS v FROM bars
    WHERE symbol = $1 AND resolution = '1' AND bucket < $2
    ORDER BY bucket DESC LIMIT $3
"""
_ROWS = """
SELECT date_part('epoch', bucket)::int8, open, high, low, close, volume::float8 FROM bars
WHERE symbol = $1 AND resolution = '1' AND bucket < $2
ORDER BY bucket DESC LIMIT $3
"""
_ARRAYS = f"""
SELECT array_agg(t) AS t, array_agg(open) AS o, array_agg(high) AS h,
       array_agg(low) AS l, array_agg(close) AS c, array_agg(v) AS v
FROM ({_PICKED}) AS picked
"""
_SORTED = f"""
SELECT array_agg(t ORDER BY bucket) AS t, array_agg(open ORDER BY bucket) AS o, array_agg(high ORDER BY bucket) AS h,
       array_agg(low ORDER BY bucket) AS l, array_agg(close ORDER BY bucket) AS c, array_agg(v ORDER BY bucket) AS v
FROM ({_PICKED}) AS picked
"""
_JSON = f"""
SELECT json_build_object('s', 'ok', 't', array_agg(t ORDER BY bucket), 'o', array_agg(open ORDER BY bucket),
       'h', array_agg(high ORDER BY bucket), 'l', array_agg(low ORDER BY bucket),
       'c', array_agg(close ORDER BY bucket), 'v', array_agg(v ORDER BY bucket))::text
FROM ({_PICKED}) AS picked
"""


def _body(columns: dict[str, Any]) -> bytes:
    return orjson.dumps({"s": "ok", **{name: columns.get(name) or [] for name in "tohlcv"}})


async def run(db_url: str, symbols: list[str], start_s: int, end_s: int, requests: int) -> dict[str, Any]:
    """p50/p99 (ms) of each way, per countback."""
    conn = await asyncpg.connect(db_url)

    async def baseline(symbol: str, to: int, countback: int) -> object:
        return await conn.fetch(PLAIN_SQL, symbol, to_datetime(to), countback)

    async def served(symbol: str, to: int, countback: int) -> object:
        bars = await queries.history(conn, symbol, "1", to - countback * MINUTE_S, to, countback)
        body = {"s": "ok", "t": bars.t, "o": bars.o, "h": bars.h, "l": bars.l, "c": bars.c, "v": bars.v}
        return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)

    async def arrays(symbol: str, to: int, countback: int) -> object:
        found = await conn.fetchrow(_ARRAYS, symbol, to_datetime(to), countback)
        return _body({name: (column or [])[::-1] for name, column in found.items()})

    async def rows(symbol: str, to: int, countback: int) -> object:
        found = await conn.fetch(_ROWS, symbol, to_datetime(to), countback)
        return _body(dict(zip("tohlcv", zip(*reversed(found), strict=True), strict=True)))

    async def sorted_in_sql(symbol: str, to: int, countback: int) -> object:
        return _body(dict(await conn.fetchrow(_SORTED, symbol, to_datetime(to), countback)))

    async def json_in_sql(symbol: str, to: int, countback: int) -> object:
        text: str = await conn.fetchval(_JSON, symbol, to_datetime(to), countback)
        return text.encode()

    ways: dict[str, Callable[[str, int, int], Awaitable[object]]] = {
        "sql_rows (baseline)": baseline,
        "served: queries.history + orjson": served,
        "column arrays (array_agg in scan order) + orjson": arrays,
        "rows decoded one by one, zip + orjson": rows,
        "columns sorted in SQL (array_agg ORDER BY) + orjson": sorted_in_sql,
        "JSON text from PostgreSQL": json_in_sql,
    }
    rng = random.Random(7)
    out: dict[str, Any] = {}
    try:
        for countback in COUNTBACKS:
            samples: dict[str, list[float]] = {name: [] for name in ways}
            for _ in range(requests if countback < 10_000 else max(20, requests // 4)):
                symbol = rng.choice(symbols)
                to = rng.randrange(start_s + countback * MINUTE_S, end_s) // MINUTE_S * MINUTE_S
                order = list(ways.items())
                rng.shuffle(order)
                for name, way in order:
                    began = time.perf_counter()
                    await way(symbol, to, countback)
                    samples[name].append(time.perf_counter() - began)
            for name, taken in samples.items():
                taken.sort()
                out[f"countback_{countback} {name}"] = {
                    "p50_ms": round(statistics.median(taken) * 1000, 3),
                    "p99_ms": round(taken[min(len(taken) - 1, int(len(taken) * 0.99))] * 1000, 3),
                }
    finally:
        await conn.close()
    return out
