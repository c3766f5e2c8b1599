"""The history and indicator reads against the rule they implement, written plainly here.

The rule (docs/web.md, "Time rules"): the answer is the newest `max(rows in [start, end),
countback)` rows before `end`, at most `cap`; `over_cap` when the range alone holds more
than `cap`; without countback and with nothing returned, `next_time` is the newest row
before `start`. A series with gaps of every length is read with ranges and countbacks
drawn at random (seeded) around its rows, its gaps and its ends, and with caps below and
above what the ranges hold; every answer must equal the reference.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from candleflow.domain.bars import BAR_FIELDS
from candleflow.store import queries

pytestmark = pytest.mark.integration

SYMBOL = "Test:GAP/USD"
T0 = 1_704_067_200  # 2024-01-01T00:00Z
MINUTE = 60


def gappy_times(rng: random.Random, count: int) -> list[int]:
    """`count` minute buckets, ascending, with runs and gaps from one minute to a month."""
    times: list[int] = []
    t = T0
    while len(times) < count:
        run = rng.choice((1, 3, 40, 300))
        for _ in range(min(run, count - len(times))):
            times.append(t)
            t += MINUTE
        t += MINUTE * rng.choice((1, 2, 17, 600, 43_200))
    return times


def expected(times: list[int], start: int, end: int, countback: int, cap: int) -> tuple[list[int], int | None, bool]:
    """(times returned, next_time, over_cap) by the rule, from the ascending `times`."""
    before_end = [t for t in times if t < end]
    in_range = [t for t in before_end if t >= start]
    wanted = min(max(len(in_range), countback), cap)
    answer = before_end[max(len(before_end) - wanted, 0) :] if wanted else []
    next_time = None
    if not countback and not in_range:
        older = [t for t in before_end if t < start]
        next_time = older[-1] if older else None
    return answer, next_time, len(in_range) > cap


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()


async def store_series(db: asyncpg.Connection, times: list[int]) -> None:
    await db.copy_records_to_table(
        "bars",
        records=[
            (SYMBOL, "1", datetime.fromtimestamp(t, UTC), t / 7, t / 5, t / 11, t / 3, 0.5, 2, t, 0, t, 0)
            for t in times
        ],
        columns=["symbol", "resolution", "bucket", *BAR_FIELDS],
    )
    await db.copy_records_to_table(
        "indicators",
        records=[(SYMBOL, "1", "sma", 20, datetime.fromtimestamp(t, UTC), t / 13) for t in times],
        columns=["symbol", "resolution", "kind", "period", "bucket", "value"],
    )


def cases(rng: random.Random, times: list[int], count: int) -> list[tuple[int, int, int, int]]:
    """(start, end, countback, cap): ends on rows, in gaps and beyond the series."""
    points = [times[0] - 3 * MINUTE, times[-1] + 3 * MINUTE, 0, 2_100_000_000]
    drawn = []
    for _ in range(count):
        a = rng.choice(times) + rng.choice((0, 0, MINUTE // 2, MINUTE, -MINUTE, 5 * MINUTE))
        b = rng.choice(times + points) + rng.choice((0, MINUTE, -MINUTE))
        start, end = (a, b) if rng.random() < 0.9 else (b, a)  # a tenth have start after end
        if rng.random() < 0.1:
            start = rng.choice(points)
        countback = rng.choice((0, 0, 1, 2, 10, 300, 2_000))
        cap = rng.choice((1, 5, 100, 1_000, 100_000))
        drawn.append((start, end, countback, cap))
    for _ in range(count // 4):  # the range holds exactly countback - 1, countback or countback + 1 rows
        countback = rng.choice((1, 2, 10, 300))
        i = rng.randrange(countback + 2, len(times))
        start = times[i - countback + rng.choice((-1, 0, 1))]
        drawn.append((start, times[i], countback, rng.choice((countback - 1 or 1, countback, countback + 1, 100_000))))
    return drawn


async def test_history_and_indicator_reads_follow_the_rule(db: asyncpg.Connection) -> None:
    rng = random.Random(20241124)
    times = gappy_times(rng, 3_000)
    await store_series(db, times)
    checked = {"bars": 0, "next_time": 0, "over_cap": 0, "countback_extended": 0}
    for start, end, countback, cap in cases(rng, times, 400):
        want, next_time, over_cap = expected(times, start, end, countback, cap)
        bars = await queries.history(db, SYMBOL, "1", start, end, countback, cap)
        got = (bars.t.tolist(), bars.next_time, bars.over_cap)
        assert got == (want, next_time, over_cap), (start, end, countback, cap)
        assert bars.o.tolist() == [t / 7 for t in want] and bars.c.tolist() == [t / 3 for t in want]
        assert bars.h.tolist() == [t / 5 for t in want] and bars.l.tolist() == [t / 11 for t in want]
        assert bars.v.tolist() == [0.5] * len(want)
        series = await queries.indicator(db, SYMBOL, "1", "sma", 20, start, end, countback, cap)
        assert (series.t.tolist(), series.next_time, series.over_cap) == (want, next_time, over_cap)
        assert series.v.tolist() == [t / 13 for t in want]
        checked["bars"] += bool(want)
        checked["next_time"] += next_time is not None
        checked["over_cap"] += over_cap
        checked["countback_extended"] += sum(1 for t in want if t < start) > 0
    # The draw reached every branch of the rule, not only the common one.
    assert all(n >= 10 for n in checked.values()), checked


async def test_an_unknown_series_is_empty(db: asyncpg.Connection) -> None:
    await store_series(db, gappy_times(random.Random(1), 50))
    bars = await queries.history(db, "Nowhere:X/Y", "1", 0, 2_100_000_000, 300)
    assert (bars.t.tolist(), bars.v.tolist(), bars.next_time, bars.over_cap) == ([], [], None, False)
