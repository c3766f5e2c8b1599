"""`candleflow backfill cryptocompare` against the local CryptoCompare REST server and the
real database: paging with dedupe, rate limits in the middle, resume after an
interruption, tick bars never overwritten, roll-ups equal to an independent aggregation."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from candleflow.core.settings import Settings
from candleflow.domain.bars import aggregate
from candleflow.maintenance.backfill.run import BackfillError, Plan, backfill, phases_for
from candleflow.sources.cryptocompare_rest import HistoryClient, Retry
from candleflow.store import bars as store
from tests.fakes.cryptocompare_server import VALID_KEY, FakeCryptoCompare
from tests.harness.worker import candleflow_executable

pytestmark = pytest.mark.integration

SYMBOL = "Coinbase:BTC/USD"
START = 1_704_067_200  # 2024-01-01T00:00:00Z (a Monday, a 4-hour boundary)
Row = dict[str, Any]
Bars = dict[tuple[str, int], tuple[float, float, float, float, Decimal]]


def minute_rows(count: int, start: int = START, seed: int = 3, step: int = 60) -> list[Row]:
    """A random walk of history rows, with some CryptoCompare filler rows (no trade)."""
    rnd = random.Random(seed)
    price = 40_000.0
    rows = []
    for i in range(count):
        time = start + i * step
        if i > 0 and rnd.random() < 0.03:
            rows.append({"time": time, "open": price, "high": price, "low": price, "close": price,
                         "volumefrom": 0, "volumeto": 0})  # fmt: skip
            continue
        open_ = round(price, 2)
        price = round(price * (1 + rnd.gauss(0, 0.001)), 2)
        high = round(max(open_, price) + rnd.random() * 5, 2)
        low = round(min(open_, price) - rnd.random() * 5, 2)
        rows.append({"time": time, "open": open_, "high": high, "low": low, "close": price,
                     "volumefrom": round(rnd.random() * 3, 4), "volumeto": 1.0})  # fmt: skip
    return rows


def floor(ts: int, code: str) -> int:
    """Bucket start (s) by datetime arithmetic, independent of candleflow.domain.resolution."""
    moment = datetime.fromtimestamp(ts, UTC)
    if code == "1M":
        return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp())
    if code == "1W":
        day = datetime(moment.year, moment.month, moment.day, tzinfo=UTC) - timedelta(days=moment.weekday())
        return int(day.timestamp())
    size = {"1": 60, "5": 300, "15": 900, "30": 1800, "60": 3600, "240": 14400, "1D": 86400}[code]
    return ts - ts % size


def following(bucket: int, code: str) -> int:
    if code == "1M":
        moment = datetime.fromtimestamp(bucket, UTC)
        month = moment.year * 12 + moment.month
        return int(datetime(month // 12, month % 12 + 1, 1, tzinfo=UTC).timestamp())
    if code == "1W":
        return bucket + 7 * 86400
    return floor(bucket, code) + {"1": 60, "5": 300, "15": 900, "30": 1800, "60": 3600, "240": 14400, "1D": 86400}[code]


def reference(rows: list[Row], codes: tuple[str, ...], end: int) -> Bars:
    """Independent roll-up of traded rows: whole buckets from the first traded row to `end`."""
    traded = sorted((r for r in rows if r["volumefrom"] > 0), key=lambda r: r["time"])
    first = traded[0]["time"]
    result: Bars = {}
    for code in codes:
        groups: dict[int, list[Row]] = defaultdict(list)
        for row in traded:
            groups[floor(row["time"], code)].append(row)
        for bucket, members in groups.items():
            if bucket < first or following(bucket, code) > end:
                continue
            result[(code, bucket * 1000)] = (
                members[0]["open"],
                max(m["high"] for m in members),
                min(m["low"] for m in members),
                members[-1]["close"],
                sum((Decimal(repr(m["volumefrom"])) for m in members), Decimal(0)),
            )
    return result


async def stored(database_url: str, source: str = "rest") -> Bars:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT resolution, (extract(epoch from bucket) * 1000)::bigint AS bucket, open, high, low, close, volume"
            " FROM bars WHERE source = $1",
            source,
        )
    finally:
        await conn.close()
    return {(r["resolution"], r["bucket"]): (r["open"], r["high"], r["low"], r["close"], r["volume"]) for r in rows}


@pytest.fixture
async def server() -> AsyncIterator[FakeCryptoCompare]:
    async with FakeCryptoCompare() as fake:
        yield fake


async def run(server: FakeCryptoCompare, database_url: str, since: int, until: int, choice: str = "minute") -> None:
    settings = Settings(database_url=database_url, cryptocompare_rest_url=server.rest_url)
    plan = Plan((SYMBOL,), since * 1000, until * 1000, phases_for(choice))
    async with HistoryClient(server.rest_url, VALID_KEY, retry=Retry(attempts=5, initial=0.01)) as client:
        await backfill(settings, plan, client, lambda _line: None)


def to_ts(server: FakeCryptoCompare, unit: str = "histominute") -> list[int]:
    return [int(r["toTs"]) for r in server.rest_requests if r["unit"] == unit]


CODES = ("1", "5", "15", "30", "60", "240")


async def test_pages_dedupes_and_rolls_up_like_an_independent_aggregation(
    server: FakeCryptoCompare, database_url: str
) -> None:
    rows = minute_rows(5_000)
    server.rest_rows[("Coinbase", "BTC", "USD", "histominute")] = rows
    end = START + 5_000 * 60
    await run(server, database_url, START, end)
    assert to_ts(server) == [end - 60, end - 60 - 2000 * 60, end - 60 - 4000 * 60]
    assert await stored(database_url) == reference(rows, CODES, end)
    conn = await asyncpg.connect(database_url)
    try:
        decimals = await conn.fetchval("SELECT price_decimals FROM symbols WHERE symbol = $1", SYMBOL)
        emas = await conn.fetchval("SELECT count(*) FROM indicators WHERE resolution = '1' AND kind = 'ema'")
        minutes = await conn.fetchval("SELECT count(*) FROM bars WHERE resolution = '1'")
    finally:
        await conn.close()
    assert decimals == 2
    assert emas == minutes * len(Settings().ma_periods)


async def test_rate_limits_in_the_middle_are_waited_out(server: FakeCryptoCompare, database_url: str) -> None:
    rows = minute_rows(5_000, seed=5)
    server.rest_rows[("Coinbase", "BTC", "USD", "histominute")] = rows
    server.rest_faults = {
        2: (429, {"Response": "Error", "Message": "Too Many Requests"}),
        4: (200, {"Response": "Error", "Message": "You are over your rate limit please upgrade your account!"}),
        5: (503, {"Response": "Error", "Message": "unavailable"}),
    }
    end = START + 5_000 * 60
    await run(server, database_url, START, end)
    assert len(server.rest_requests) == 6
    assert sorted(set(to_ts(server))) == sorted({end - 60 - k * 2000 * 60 for k in range(3)})
    assert await stored(database_url) == reference(rows, CODES, end)


async def test_an_interrupted_run_resumes_where_it_stopped(
    server: FakeCryptoCompare, database_url: str, second_database: str
) -> None:
    rows = minute_rows(12_500, seed=9)
    server.rest_rows[("Coinbase", "BTC", "USD", "histominute")] = rows
    end = START + 12_500 * 60
    await run(server, second_database, START, end)
    uninterrupted = to_ts(server)
    assert len(uninterrupted) == 7
    server.rest_requests.clear()

    task = asyncio.ensure_future(run(server, database_url, START, end))
    async with asyncio.timeout(60):
        await server.wait_rest_requests(3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    first = to_ts(server)
    assert 3 <= len(first) < 7
    server.rest_requests.clear()
    await run(server, database_url, START, end)
    second = to_ts(server)
    assert set(first) | set(second) == set(uninterrupted)
    assert len(first) + len(second) - len(uninterrupted) <= 1  # at most the page in flight again
    assert await stored(database_url) == await stored(second_database) == reference(rows, CODES, end)

    # A later run with a newer --until only fetches what is new, paging up.
    server.rest_requests.clear()
    await run(server, database_url, START, end + 3_000 * 60)
    assert all(t > end - 60 for t in to_ts(server))


async def test_bars_built_from_ticks_are_never_overwritten(server: FakeCryptoCompare, database_url: str) -> None:
    rows = minute_rows(5_000, seed=13)
    server.rest_rows[("Coinbase", "BTC", "USD", "histominute")] = rows
    server.rest_rows[("Coinbase", "BTC", "USD", "histoday")] = minute_rows(60, start=START - 40 * 86400, step=86400)
    first_tick = START + 3_001 * 60 + 7  # mid-minute, mid-5-minutes, mid-hour
    ticks = [(SYMBOL, (first_tick + i * 97) * 1000, 41_000.0 + i, 0.5, i) for i in range(40)]
    conn = await asyncpg.connect(database_url)
    try:
        await store.merge_bars(conn, aggregate(ticks))
    finally:
        await conn.close()
    before = await stored(database_url, "ticks")
    end = START + 5_000 * 60
    await run(server, database_url, START - 40 * 86400, end, "all")
    assert await stored(database_url, "ticks") == before
    rest = await stored(database_url)
    assert rest, "the backfill wrote nothing"
    firsts: dict[str, int] = {}
    for code, bucket in before:
        firsts[code] = min(bucket, firsts.get(code, bucket))
    assert all(bucket < firsts[code] for code, bucket in rest), "a REST bar at or after a tick bar"
    assert all(t < first_tick for t in to_ts(server)), "fetched minutes the tick log covers"
    expected = reference([r for r in rows if r["time"] < floor(first_tick, "1")], CODES, end)
    minute_era = {k: v for k, v in rest.items() if k[0] in CODES and k[1] >= START * 1000}
    assert minute_era == {k: v for k, v in expected.items() if k[1] < firsts[k[0]]}
    # Before the minute history, hours (histohour) fill 60 and 240; days fill 1D, 1W, 1M.
    assert {code for code, bucket in rest if bucket < START * 1000} == {"60", "240", "1D", "1W", "1M"}


async def test_a_refused_request_stops_with_the_symbol_named(server: FakeCryptoCompare, database_url: str) -> None:
    server.rest_error = "market does not exist for this coin pair (Coinbase-BTC-USD)"
    with pytest.raises(BackfillError, match=r"Coinbase:BTC/USD.*market does not exist"):
        await run(server, database_url, START, START + 3600)


async def test_the_cli_backfills_and_reports(server: FakeCryptoCompare, database_url: str) -> None:
    rows = minute_rows(3_000, seed=17)
    server.rest_rows[("Coinbase", "BTC", "USD", "histominute")] = rows
    end = START + 3_000 * 60
    env = {
        "PATH": "/usr/bin:/bin",
        "CANDLEFLOW_DATABASE_URL": database_url,
        "CANDLEFLOW_CRYPTOCOMPARE_REST_URL": server.rest_url,
        "CANDLEFLOW_CRYPTOCOMPARE_API_KEY": VALID_KEY,
    }
    process = await asyncio.create_subprocess_exec(
        candleflow_executable(),
        "backfill",
        "cryptocompare",
        "--symbols",
        SYMBOL,
        "--since",
        "2024-01-01T00:00:00Z",
        "--until",
        str(end * 1000),
        "--resolution",
        "minute",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert f"{SYMBOL} histominute: 2 pages" in out.decode()
    assert await stored(database_url) == reference(rows, CODES, end)
