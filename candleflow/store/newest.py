"""The one read of a series that `/udf/history` and `/api/indicators` serve: the newest
rows before a time, as numpy columns.

Statement. A backward scan of the series' primary key that stops at its LIMIT, its rows
packed in PostgreSQL into one `bytea` (`int8send`/`float8send` of each column, row after
row, in scan order) and unpacked here with `numpy.frombuffer`: no Python object per value
on the way in, and the columns go to orjson as arrays on the way out: faster, read and
JSON together, than column arrays (`array_agg`, decoded into lists), as
`bench/history_breakdown.py` shows. Rows decoded one by one cost PostgreSQL less but
cost their records in Python, and a few thousand records alive at once set off the
worker's collector.

The LIMIT is not known at planning time (a sub-select), which keeps the plan an ordered
backward index scan that stops at it, never a bitmap scan and a sort of the range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from candleflow.store.connection import Statements

#: Older than any bucket: the lower bound of a read that has none.
BEFORE_ALL = datetime.min.replace(tzinfo=UTC)
#: Bucket start as int8 unix seconds (`date_part` is float8, cheaper than `extract`'s numeric).
EPOCH = "date_part('epoch', bucket)::int8"

Rows = npt.NDArray[np.void]


def to_datetime(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class SeriesRead:
    """How one kind of series is read.

    `columns` maps a name to its SQL expression: the first is the time (int8 seconds),
    the others are float8. `key` is the WHERE condition on `$1`..`$params`; the
    statement's next three parameters are the lower bound, the end and the limit. The
    statement and the row layout are built once, on first use."""

    table: str
    key: str
    params: int
    columns: dict[str, str]

    @cached_property
    def sql(self) -> str:
        picked = ", ".join(f"{expression} AS {name}" for name, expression in self.columns.items())
        first, *rest = self.columns
        packed = " || ".join([f"int8send({first})", *(f"float8send({name})" for name in rest)])
        return f"""
SELECT string_agg({packed}, ''::bytea) FROM (
    SELECT {picked} FROM {self.table}
    WHERE {self.key} AND bucket >= ${self.params + 1} AND bucket < ${self.params + 2}
    ORDER BY bucket DESC
    LIMIT (SELECT ${self.params + 3}::bigint)
) AS newest
"""

    @cached_property
    def time(self) -> str:
        return next(iter(self.columns))

    @cached_property
    def row(self) -> np.dtype[np.void]:
        """One packed row: big-endian, as PostgreSQL's send functions write."""
        first, *rest = self.columns
        return np.dtype([(first, ">i8"), *((name, ">f8") for name in rest)])


@dataclass(frozen=True, slots=True)
class Newest:
    """What `newest` found: `columns` ascending (native int64 times, float64 values)."""

    columns: dict[str, npt.NDArray[Any]]
    over_cap: bool
    next_time: int | None


async def _read(db: Statements, read: SeriesRead, key: tuple[Any, ...], lower: datetime, end: int, limit: int) -> Rows:
    """The rows of `[lower, end)`, newest first, at most `limit`."""
    packed = await db.fetchval(read.sql, *key, lower, to_datetime(end), limit)
    rows = np.frombuffer(packed or b"", dtype=read.row)
    times = rows[read.time]
    if len(times) > 1 and not bool(np.all(times[:-1] > times[1:])):  # scan order, in every plan so far
        rows = rows[np.argsort(-times, kind="stable")]
    return rows


async def newest(
    db: Statements, read: SeriesRead, key: tuple[Any, ...], start: int, end: int, countback: int, cap: int
) -> Newest:
    """The rule every series read follows.

    The answer is the newest `max(rows in [start, end), countback)` rows before `end`, at
    most `cap`; `over_cap` when the range alone holds more than `cap`; without countback
    and with nothing in range, `next_time` is the newest row before `start`. Both
    candidates are prefixes of one backward scan from `end`, so one read of `countback +
    1` rows usually settles it: when its last row is before `start`, the range is inside
    the first `countback`. Only a range holding more rows than `countback` is read on from
    where the first read stopped (up to `cap + 1` rows in all, to see whether it holds more
    than the cap); without countback, the range is read, and when it is empty the one row
    before it. The cost follows the rows returned, never the nominal length of the range.
    """
    over_cap, next_time = False, None
    time = read.time
    if countback:
        keep = min(countback, cap)
        rows = await _read(db, read, key, BEFORE_ALL, end, keep + 1)
        if len(rows) > keep and rows[time][keep] >= start:  # the range holds more than countback
            if keep < cap:
                more = await _read(db, read, key, to_datetime(start), int(rows[time][-1]), cap - keep)
                rows = np.concatenate([rows, more])
            over_cap, keep = len(rows) > cap, cap
    else:
        keep = cap
        rows = await _read(db, read, key, to_datetime(start), end, cap + 1)
        over_cap = len(rows) > cap
        if not len(rows):
            before = await _read(db, read, key, BEFORE_ALL, min(start, end), 1)
            next_time = int(before[time][0]) if len(before) else None
    ascending = rows[:keep][::-1]
    columns = {name: ascending[name].astype(np.int64 if name == time else np.float64) for name in read.columns}
    return Newest(columns, over_cap, next_time)
