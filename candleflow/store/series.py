"""The series recompute against the database: read what `functions.recompute` needs,
write what it returns. The one home of these steps for every writer:

1. `prefixes`: per (series, since), the `needed` bars before `since` and, when there are
   that many, the stored outputs of the last one (the seeds). Seeds missing (a function
   added to the configuration, or one that failed at that bar) fall back to the whole
   history: with `history=True` the series is recomputed and rewritten from its first bar
   (the live engine, the swap, backfill: a new function fills its past on the next tick);
   with `history=False` every bar before `since` becomes the prefix (a replay from a
   cutoff, which may only write from the cutoff).
2. `suffixes`: every bar from `since` on.
3. `functions.recompute.compute`, then `write`: upsert the values, delete those of bars
   that have none now (a failing function), replace each series' marks from `since` on,
   all in one statement (`WRITE_SERIES`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from candleflow.functions.api import FunctionBar, Values
from candleflow.functions.recompute import Computed, MarkRow, SeriesInput, SeriesKey, compute, missing_seeds, seeds_from
from candleflow.functions.registry import FunctionSet
from candleflow.store.connection import Connection
from candleflow.store.sql import epoch_ms, ms

#: `since` that selects a series' whole history (every tick is after 2009).
WHOLE_HISTORY = 0

SERIES = "unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS a(symbol, resolution, since, i)"
#: The columns of a function's input bar (`functions.api.FunctionBar`) besides its bucket.
FUNCTION_BAR = "open, high, low, close, volume::float8 AS volume"

PREFIX_BARS = f"""
SELECT a.i, p.bucket, p.open, p.high, p.low, p.close, p.volume
FROM {SERIES}
CROSS JOIN LATERAL (
    SELECT {epoch_ms("bucket")} AS bucket, {FUNCTION_BAR} FROM bars
    WHERE symbol = a.symbol AND resolution = a.resolution
      AND bucket < {ms("a.since")}
    ORDER BY bucket DESC LIMIT $4
) AS p
"""

SUFFIX_BARS = f"""
SELECT a.i, {epoch_ms("b.bucket")} AS bucket, b.open, b.high, b.low, b.close, b.volume::float8 AS volume
FROM {SERIES}
JOIN bars AS b ON b.symbol = a.symbol AND b.resolution = a.resolution
              AND b.bucket >= {ms("a.since")}
ORDER BY a.i, b.bucket
"""

VALUES_AT = f"""
SELECT a.i, x.kind, x.period, x.value
FROM {SERIES}
JOIN indicators AS x ON x.symbol = a.symbol AND x.resolution = a.resolution
                    AND x.bucket = {ms("a.since")}
"""

#: Step 3's writes in one statement (one round trip per batch): the values of the
#: changed bars upserted, those that have none now deleted, and each series' marks from
#: `since` on replaced by the recomputed ones. The parts of one statement run in an order
#: PostgreSQL chooses and see none of each other's changes, so no two touch one row:
#: values upserted and values deleted are disjoint (a function has values at a bar or
#: has none), and marks are replaced by deleting those the recompute no longer makes and
#: upserting the others (`marks_by_signal`), never by a delete and an insert of one key.
#: $1-$3 spans (symbol, resolution, since), $4-$8 cleared values, $9-$14 values,
#: $15-$23 marks.
WRITE_SERIES = f"""
WITH spans AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS a(symbol, resolution, since)
), cleared AS (
    DELETE FROM indicators AS x
    USING unnest($4::text[], $5::text[], $6::text[], $7::int[], $8::bigint[])
          AS c(symbol, resolution, kind, period, bucket)
    WHERE x.symbol = c.symbol AND x.resolution = c.resolution AND x.kind = c.kind AND x.period = c.period
      AND x.bucket = {ms("c.bucket")}
), upserted AS (
    INSERT INTO indicators (symbol, resolution, kind, period, bucket, value)
    SELECT symbol, resolution, kind, period, {ms("bucket")}, value
    FROM unnest($9::text[], $10::text[], $11::text[], $12::int[], $13::bigint[], $14::float8[])
         AS v(symbol, resolution, kind, period, bucket, value)
    ON CONFLICT (symbol, resolution, kind, period, bucket) DO UPDATE SET value = excluded.value
), fresh AS (
    SELECT symbol, resolution, {ms("bucket")} AS bucket, signal, kind, label, text, tone, price
    FROM unnest($15::text[], $16::text[], $17::bigint[], $18::text[], $19::text[], $20::text[], $21::text[],
                $22::text[], $23::float8[]) AS c(symbol, resolution, bucket, signal, kind, label, text, tone, price)
), stale AS (
    DELETE FROM marks AS m USING spans AS a
    WHERE m.symbol = a.symbol AND m.resolution = a.resolution AND m.bucket >= {ms("a.since")}
      AND NOT EXISTS (SELECT 1 FROM fresh AS f WHERE f.symbol = m.symbol AND f.resolution = m.resolution
                                                 AND f.bucket = m.bucket AND f.signal = m.signal)
)
INSERT INTO marks (symbol, resolution, bucket, signal, kind, label, text, tone, price)
SELECT symbol, resolution, bucket, signal, kind, label, text, tone, price FROM fresh
ON CONFLICT (symbol, resolution, bucket, signal) DO UPDATE SET
    kind = excluded.kind, label = excluded.label, text = excluded.text, tone = excluded.tone, price = excluded.price
"""

Span = tuple[SeriesKey, int]  # (series, since)


def _series_args(series: Sequence[Span]) -> tuple[list[str], list[str], list[int]]:
    return [s[0][0] for s in series], [s[0][1] for s in series], [s[1] for s in series]


def _bar(row: Any) -> FunctionBar:
    return FunctionBar(row["bucket"], row["open"], row["high"], row["low"], row["close"], row["volume"])


async def prefix_bars(conn: Connection, series: Sequence[Span], limit: int) -> list[list[FunctionBar]]:
    """For each (series, since): up to `limit` bars before `since`, oldest first."""
    result: list[list[FunctionBar]] = [[] for _ in series]
    if series:
        for row in await conn.fetch(PREFIX_BARS, *_series_args(series), limit):
            result[row["i"] - 1].append(_bar(row))
    for bars in result:
        bars.reverse()
    return result


async def suffix_bars(conn: Connection, series: Sequence[Span], *, lock: bool = False) -> list[list[FunctionBar]]:
    """For each (series, since): every bar from `since` on, oldest first (`lock`: FOR SHARE)."""
    result: list[list[FunctionBar]] = [[] for _ in series]
    if series:
        sql = SUFFIX_BARS + (" FOR SHARE OF b" if lock else "")
        for row in await conn.fetch(sql, *_series_args(series)):
            result[row["i"] - 1].append(_bar(row))
    return result


async def values_at(conn: Connection, series: Sequence[Span]) -> list[dict[tuple[str, int], float]]:
    """For each (series, bucket): every stored `(kind, period) -> value` at that bar."""
    result: list[dict[tuple[str, int], float]] = [{} for _ in series]
    if series:
        for row in await conn.fetch(VALUES_AT, *_series_args(series)):
            result[row["i"] - 1][(row["kind"], row["period"])] = row["value"]
    return result


@dataclass(slots=True)
class Prefix:
    """What comes before a recompute: `bars`, the seeds at the last one (None: `bars`
    start the series), and the `since` to recompute from (moved to 0 on fallback)."""

    key: SeriesKey
    since: int
    bars: list[FunctionBar]
    seeds: Values | None


async def prefixes(
    conn: Connection, functions: FunctionSet, spans: Sequence[Span], *, history: bool = True
) -> list[Prefix]:
    """Step 1 of the module docstring, for every span at once."""
    found = await prefix_bars(conn, spans, functions.needed)
    full = [i for i, bars in enumerate(found) if len(bars) >= functions.needed]
    stored = await values_at(conn, [(spans[i][0], found[i][-1].bucket) for i in full])
    result = [Prefix(key, since, bars, None) for (key, since), bars in zip(spans, found, strict=True)]
    fallback: list[int] = []
    for i, values in zip(full, stored, strict=True):
        seeds = seeds_from(functions, values)
        if missing_seeds(functions, seeds):
            fallback.append(i)
        else:
            result[i].seeds = seeds
    if fallback and history:
        for i in fallback:
            result[i].since, result[i].bars = WHOLE_HISTORY, []
    elif fallback:
        histories = await prefix_bars(conn, [spans[i] for i in fallback], 2**62)
        for i, bars in zip(fallback, histories, strict=True):
            result[i].bars = bars
    return result


async def load(
    conn: Connection, functions: FunctionSet, spans: Sequence[Span], *, lock: bool = False
) -> list[SeriesInput]:
    """Steps 1 and 2: each span's recompute input, read from the database."""
    before = await prefixes(conn, functions, spans)
    after = await suffix_bars(conn, [(p.key, p.since) for p in before], lock=lock)
    return [
        SeriesInput(p.key, p.since, p.bars + bars, len(p.bars), p.seeds) for p, bars in zip(before, after, strict=True)
    ]


def _columns(rows: Sequence[tuple[SeriesKey, Sequence[tuple[Any, ...]]]], width: int) -> list[list[Any]]:
    """Each series' rows of `width` fields as statement columns, led by the series'
    symbol and resolution: transposed per series (a batch writes thousands of values,
    and a pass over them per column was as costly as computing them)."""
    columns: list[list[Any]] = [[] for _ in range(width + 2)]
    for (symbol, resolution), found in rows:
        if not found:
            continue
        columns[0] += [symbol] * len(found)
        columns[1] += [resolution] * len(found)
        for column, field in zip(columns[2:], zip(*found, strict=True), strict=True):
            column.extend(field)
    return columns


async def write(conn: Connection, runs: Iterable[tuple[SeriesInput, Computed]]) -> int:
    """Step 3's writes (`WRITE_SERIES`); the number of values written."""
    done = list(runs)
    if not done:
        return 0
    spans = _series_args([(s.key, s.since) for s, _ in done])
    cleared = _columns([(s.key, c.cleared) for s, c in done], 3)
    values = _columns([(s.key, c.values) for s, c in done], 4)
    marks = [(s.key, m) for s, c in done for m in c.marks]
    await conn.execute(
        WRITE_SERIES,
        *spans,
        *cleared,
        *values,
        [k[0] for k, _ in marks],
        [k[1] for k, _ in marks],
        [m.bucket for _, m in marks],
        [m.signal for _, m in marks],
        [m.kind for _, m in marks],
        [m.label for _, m in marks],
        [m.text for _, m in marks],
        [m.tone for _, m in marks],
        [m.price for _, m in marks],
    )
    return len(values[0])


async def recompute(
    conn: Connection, functions: FunctionSet, spans: Sequence[Span], *, lock: bool = False
) -> list[tuple[SeriesInput, Computed]]:
    """Load, compute and write every span; the inputs and results (for failure reports)."""
    runs = [(series, compute(functions, series)) for series in await load(conn, functions, spans, lock=lock)]
    await write(conn, runs)
    return runs


SERIES_OF = """
SELECT DISTINCT symbol, resolution FROM bars
WHERE ($1::text[] IS NULL OR symbol = ANY($1::text[])) ORDER BY symbol, resolution
"""

STORED_VALUES = f"""
SELECT kind, period, {epoch_ms("bucket")} AS bucket, value FROM indicators
WHERE symbol = $1 AND resolution = $2
  AND ($3::bigint IS NULL OR bucket >= {ms("$3::bigint")})
  AND ($4::bigint IS NULL OR bucket < {ms("$4::bigint")})
"""

STORED_MARKS = f"""
SELECT {epoch_ms("bucket")} AS bucket, signal, kind, label, text, tone, price FROM marks
WHERE symbol = $1 AND resolution = $2
  AND ($3::bigint IS NULL OR bucket >= {ms("$3::bigint")})
  AND ($4::bigint IS NULL OR bucket < {ms("$4::bigint")})
"""


async def series_of(conn: Connection, symbols: Sequence[str] | None) -> list[SeriesKey]:
    """Every (symbol, resolution) with bars (of `symbols` only, unless None)."""
    rows = await conn.fetch(SERIES_OF, None if symbols is None else list(symbols))
    return [(row["symbol"], row["resolution"]) for row in rows]


async def stored_values(
    conn: Connection, key: SeriesKey, since: int | None, until: int | None
) -> dict[tuple[str, int, int], float]:
    """`(kind, period, bucket) -> value` of one series with `since <= bucket < until`."""
    rows = await conn.fetch(STORED_VALUES, key[0], key[1], since, until)
    return {(row["kind"], row["period"], row["bucket"]): row["value"] for row in rows}


async def stored_marks(conn: Connection, key: SeriesKey, since: int | None, until: int | None) -> list[MarkRow]:
    rows = await conn.fetch(STORED_MARKS, key[0], key[1], since, until)
    return [
        MarkRow(row["bucket"], row["signal"], row["kind"], row["label"], row["text"], row["tone"], row["price"])
        for row in rows
    ]
