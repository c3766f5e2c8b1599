"""Conformance of the UDF endpoints with the TradingView UDF protocol (docs/web.md),
served in-process by the web application every worker serves, on a real PostgreSQL.

The database holds bars built by the independent reference aggregation of a tick log
(tests/harness/reference.py); every rule of the protocol notes is checked per
resolution: `to` exclusive, `countback` winning over `from`, `no_data` with `nextTime`
across gaps, both spellings of a resolution, errors as UDF bodies.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import asyncpg
import pytest

from candleflow.core.settings import Settings
from candleflow.domain.resolution import SUPPORTED, Resolution
from candleflow.stack import StackInfo
from tests.harness import Names
from tests.harness.databases import drop_database
from tests.harness.udf_seed import SYMBOLS, Seeded, seed
from tests.harness.web import Served, serving

pytestmark = pytest.mark.integration

BTC = "Coinbase:BTC/USD"
#: A `to` far in the future (2036): with countback, `from` 0 to here asks for the last bars.
TEN_YEARS_AHEAD = 2_100_000_000
ALT_SPELLINGS = {"1D": ["D"], "1W": ["W"], "1M": ["M"], "1S": ["S"]}


@pytest.fixture(scope="module")
async def seeded(stack: StackInfo) -> AsyncIterator[Seeded]:
    data = await seed(stack)
    try:
        yield data
    finally:
        await drop_database(stack, data.database_url)


@pytest.fixture(scope="module")
async def server(stack: StackInfo, seeded: Seeded) -> AsyncIterator[Served]:
    settings = Settings.from_env(Names.fresh().env(stack, seeded.database_url, max_countback=20_000))
    async with serving(settings) as served:
        yield served


#: The bars-per-answer cap of `capped_server`: below the 1S and 1-minute series of the seed.
SMALL_CAP = 1000


@pytest.fixture(scope="module")
async def capped_server(stack: StackInfo, seeded: Seeded) -> AsyncIterator[Served]:
    env = Names.fresh().env(stack, seeded.database_url, max_countback=300, max_span_bars=SMALL_CAP)
    async with serving(Settings.from_env(env)) as served:
        yield served


async def get(url: str, **params: Any) -> tuple[int, Mapping[str, str], Any]:
    async with aiohttp.ClientSession() as session, session.get(url, params=params) as response:
        body = await response.json(content_type=None)
        return response.status, dict(response.headers), body


def series(seeded: Seeded, symbol: str, code: str) -> list[tuple[int, Any]]:
    """(bucket seconds, RefBar) ascending for one series of the reference."""
    return sorted((b // 1000, bar) for (s, c, b), bar in seeded.bars.items() if s == symbol and c == code)


def expect_bars(body: dict[str, Any], expected: list[tuple[int, Any]]) -> None:
    assert body["s"] == "ok", body
    assert body["t"] == [t for t, _ in expected]
    assert all(type(t) is int for t in body["t"])
    for column in "ohlcv":
        assert all(isinstance(x, float | int) and not isinstance(x, bool) for x in body[column])
    assert body["o"] == [b.open for _, b in expected]
    assert body["h"] == [b.high for _, b in expected]
    assert body["l"] == [b.low for _, b in expected]
    assert body["c"] == [b.close for _, b in expected]
    assert body["v"] == pytest.approx([float(b.volume) for _, b in expected], rel=1e-12)


def gap_of(res: Resolution, bars: list[tuple[int, Any]]) -> tuple[int, int] | None:
    """Two consecutive bars with at least two empty buckets between them."""
    for (t0, _), (t1, _) in itertools.pairwise(bars):
        after = res.next(res.next(t0 * 1000)) // 1000
        if after < t1:
            return t0, t1
    return None


@pytest.mark.parametrize("res", SUPPORTED, ids=lambda r: r.code)
async def test_history_rules_per_resolution(server: Served, seeded: Seeded, res: Resolution) -> None:
    bars = series(seeded, BTC, res.code)
    assert len(bars) >= 3, res
    url = f"{server.url}/udf/history"
    first, last = bars[0][0], bars[-1][0]
    end = res.next(last * 1000) // 1000

    # the whole series, ascending, exact values
    _, headers, body = await get(url, symbol=BTC, resolution=res.code, **{"from": first, "to": end})
    expect_bars(body, bars)
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Cache-Control"] == "public, max-age=60"  # 2024: closed range

    # `to` is exclusive, `from` inclusive
    k = len(bars) // 2
    _, _, body = await get(url, symbol=BTC, resolution=res.code, **{"from": bars[1][0], "to": bars[k][0]})
    expect_bars(body, bars[1:k])

    # countback larger than the history: everything before `to`, nothing invented
    _, _, body = await get(
        url, symbol=BTC, resolution=res.code, **{"from": end - 1, "to": end}, countback=len(bars) + 50
    )
    expect_bars(body, bars)

    # countback wins over from: the range holds 1 bar, countback 3 adds 2 older ones
    _, _, body = await get(
        url, symbol=BTC, resolution=res.code, **{"from": bars[k][0], "to": bars[k + 1][0]}, countback=3
    )
    expect_bars(body, bars[k - 2 : k + 1])

    # ... but never truncates the range below what [from, to) holds
    fewer = max(1, (k - 1) // 2)
    _, _, body = await get(
        url, symbol=BTC, resolution=res.code, **{"from": bars[1][0], "to": bars[k][0]}, countback=fewer
    )
    expect_bars(body, bars[1:k])

    # countback without from: the countback bars before `to`
    _, _, body = await get(url, symbol=BTC, resolution=res.code, to=bars[k][0], countback=2)
    expect_bars(body, bars[k - 2 : k])

    # the last N bars: from 0 and `to` ten years ahead is how scripts ask for them
    _, _, body = await get(url, symbol=BTC, resolution=res.code, **{"from": 0, "to": TEN_YEARS_AHEAD}, countback=3)
    expect_bars(body, bars)  # [from, to) holds every bar: more than 3
    _, _, body = await get(url, symbol=BTC, resolution=res.code, to=TEN_YEARS_AHEAD, countback=3)
    expect_bars(body, bars[-3:])
    _, _, body = await get(url, symbol=BTC, resolution=res.code, **{"from": end, "to": TEN_YEARS_AHEAD}, countback=3)
    expect_bars(body, bars[-3:])

    # `from` after `to` is an empty range: countback bars before `to`, or no_data
    _, _, body = await get(url, symbol=BTC, resolution=res.code, **{"from": end + 99, "to": end}, countback=2)
    expect_bars(body, bars[-2:])
    _, _, body = await get(url, symbol=BTC, resolution=res.code, **{"from": end + 99, "to": end})
    assert body == {"s": "no_data", "nextTime": last}

    # `to` alone is an empty range too: no_data pointing at the newest bar before it
    _, _, body = await get(url, symbol=BTC, resolution=res.code, to=end)
    assert body == {"s": "no_data", "nextTime": last}

    # nothing at or before `to`: plain no_data (no nextTime)
    _, _, body = await get(url, symbol=BTC, resolution=res.code, **{"from": first - 10, "to": first})
    assert body == {"s": "no_data"}
    _, _, body = await get(url, symbol=BTC, resolution=res.code, **{"from": first - 10, "to": first}, countback=5)
    assert body == {"s": "no_data"}

    # after the last bar: no_data with nextTime = the newest bar before `from` (seconds)
    _, _, body = await get(url, symbol=BTC, resolution=res.code, **{"from": end, "to": end + 10})
    assert body == {"s": "no_data", "nextTime": last}

    # a gap inside the history
    gap = gap_of(res, bars)
    if gap is not None:
        before, after = gap
        start = res.next(before * 1000) // 1000
        status, _, body = await get(url, symbol=BTC, resolution=res.code, **{"from": start, "to": after})
        assert status == 200
        assert body == {"s": "no_data", "nextTime": before}
        _, _, body = await get(url, symbol=BTC, resolution=res.code, **{"from": start, "to": after}, countback=1)
        expect_bars(body, [b for b in bars if b[0] == before])


@pytest.mark.parametrize(("code", "spellings"), ALT_SPELLINGS.items())
async def test_both_spellings_agree(server: Served, seeded: Seeded, code: str, spellings: list[str]) -> None:
    bars = series(seeded, BTC, code)
    params = {"symbol": BTC, "from": bars[0][0], "to": bars[-1][0] + 1}
    _, _, canonical = await get(f"{server.url}/udf/history", resolution=code, **params)
    expect_bars(canonical, bars)
    for spelling in spellings:
        status, _, body = await get(f"{server.url}/udf/history", resolution=spelling, **params)
        assert status == 200, (spelling, body)
        assert body == canonical, spelling


@pytest.mark.parametrize(
    ("params", "status", "fragment"),
    [
        ({"resolution": "1", "from": 0, "to": 10}, 400, "missing parameter symbol"),
        ({"symbol": BTC, "from": 0, "to": 10}, 400, "missing parameter resolution"),
        ({"symbol": BTC, "resolution": "1"}, 400, "missing parameter to"),
        ({"symbol": BTC, "resolution": "7", "from": 0, "to": 10}, 400, "supported: 1S, 1, 5"),
        (
            {"symbol": BTC, "resolution": "1m", "from": 0, "to": 10},
            400,
            "minutes are plain numbers, `1`; a month is `1M`",
        ),
        ({"symbol": BTC, "resolution": "1h", "from": 0, "to": 10}, 400, "hours are written in minutes, `60`"),
        ({"symbol": BTC, "resolution": "1d", "from": 0, "to": 10}, 400, "write `1D`"),
        ({"symbol": BTC, "resolution": "1X", "from": 0, "to": 10}, 400, "resolution"),
        ({"symbol": BTC, "resolution": "", "from": 0, "to": 10}, 400, "resolution"),
        ({"symbol": BTC, "resolution": "1", "from": "x", "to": 10}, 400, "not an integer"),
        ({"symbol": BTC, "resolution": "1", "from": 1.5, "to": 10}, 400, "not an integer"),
        ({"symbol": BTC, "resolution": "1", "from": 0, "to": 10, "countback": -1}, 400, "below"),
        ({"symbol": BTC, "resolution": "1", "from": 0, "to": 10, "countback": 20_001}, 400, "above 20000"),
        ({"symbol": BTC, "resolution": "1", "from": 0, "to": 10**40}, 400, "above"),
        ({"symbol": BTC, "resolution": "1", "from": "0x10", "to": 10}, 400, "not an integer"),
        ({"symbol": "Nowhere:X/Y", "resolution": "1", "from": 0, "to": 10}, 404, "unknown_symbol"),
        ({"symbol": "x" * 500, "resolution": "1", "from": 0, "to": 10}, 400, "longer"),
    ],
)
async def test_history_errors_are_udf_bodies(
    server: Served, params: dict[str, Any], status: int, fragment: str
) -> None:
    got, headers, body = await get(f"{server.url}/udf/history", **params)
    assert got == status
    assert body["s"] == "error"
    assert fragment in body["errmsg"]
    assert set(body) == {"s", "errmsg"}
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Cache-Control"] == "no-store"


async def test_config(server: Served) -> None:
    status, _, body = await get(f"{server.url}/udf/config")
    assert status == 200
    assert body["supported_resolutions"] == [r.code for r in SUPPORTED]
    assert body["supports_search"] is True or body["supports_group_request"] is True
    assert body["supports_time"] and body["supports_marks"] and body["supports_timescale_marks"]
    assert {e["value"] for e in body["exchanges"]} == {"", "Coinbase", "Kraken", "Binance"}
    assert {t["value"] for t in body["symbols_types"]} == {"", "crypto"}


async def test_symbols(server: Served) -> None:
    for symbol, decimals in SYMBOLS.items():
        status, _, info = await get(f"{server.url}/udf/symbols", symbol=symbol)
        assert status == 200
        assert info["ticker"] == symbol
        assert info["pricescale"] == 10**decimals
        assert info["minmov"] == 1
        assert info["session"] == "24x7"
        assert info["timezone"] == "Etc/UTC"
        assert info["type"] == "crypto"
        assert info["has_intraday"] and info["has_seconds"] and info["has_daily"] and info["has_weekly_and_monthly"]
        assert info["seconds_multipliers"] == ["1"]
        assert info["intraday_multipliers"] == ["1", "5", "15", "30", "60", "240"]
        assert info["supported_resolutions"] == [r.code for r in SUPPORTED]
        assert info["data_status"] == "streaming"
        assert info["visible_plots_set"] == "ohlcv"
        assert isinstance(info["volume_precision"], int)
    status, _, body = await get(f"{server.url}/udf/symbols", symbol="Nowhere:X/Y")
    assert (status, body) == (404, {"s": "error", "errmsg": "unknown_symbol"})
    status, _, body = await get(f"{server.url}/udf/symbols", symbol="coinbase:btc/usd")
    assert status == 200 and body["ticker"] == BTC


async def test_a_symbol_stored_after_a_miss_is_found_at_once(server: Served, seeded: Seeded) -> None:
    """The worker remembers symbols it found, never names it did not: a 404 is not cached."""
    name, alias = "Bitstamp:NEW/EUR", "new/eur"
    for asked in (name, alias):
        status, _, body = await get(f"{server.url}/udf/symbols", symbol=asked)
        assert (status, body) == (404, {"s": "error", "errmsg": "unknown_symbol"})
    status, _, body = await get(
        f"{server.url}/udf/history", symbol=name, resolution="1", to=TEN_YEARS_AHEAD, countback=5
    )
    assert (status, body) == (404, {"s": "error", "errmsg": "unknown_symbol"})
    conn = await asyncpg.connect(seeded.database_url)
    try:
        await conn.execute(
            "INSERT INTO symbols VALUES ($1, 'Bitstamp', 'NEW', 'EUR', 3, now(), now())",
            name,
        )
        status, _, info = await get(f"{server.url}/udf/symbols", symbol=name)
        assert status == 200 and info["ticker"] == name and info["pricescale"] == 1000
        status, _, info = await get(f"{server.url}/udf/symbols", symbol=alias)
        assert status == 200 and info["ticker"] == name
        status, _, body = await get(
            f"{server.url}/udf/history", symbol=name, resolution="1", to=TEN_YEARS_AHEAD, countback=5
        )
        assert (status, body) == (200, {"s": "no_data"})
    finally:
        await conn.execute("DELETE FROM symbols WHERE symbol = $1", name)
        await conn.close()
    status, _, body = await get(f"{server.url}/udf/symbols", symbol="Nowhere:X/Y")
    assert (status, body) == (404, {"s": "error", "errmsg": "unknown_symbol"})


async def test_search(server: Served) -> None:
    url = f"{server.url}/udf/search"
    _, _, everything = await get(url, query="", limit=30)
    assert {item["ticker"] for item in everything} == set(SYMBOLS)
    _, _, found = await get(url, query="btc")
    assert [i["ticker"] for i in found] == [BTC]
    assert set(found[0]) >= {"symbol", "full_name", "description", "exchange", "ticker", "type"}
    _, _, found = await get(url, query="kraken")  # matches the description
    assert [i["ticker"] for i in found] == ["Kraken:ETH/USD"]
    _, _, found = await get(url, query="", exchange="Binance")
    assert [i["ticker"] for i in found] == ["Binance:DOGE/USDT"]
    _, _, found = await get(url, query="", type="stock")
    assert found == []
    _, _, found = await get(url, query="", limit=1)
    assert len(found) == 1
    status, _, body = await get(url, query="", limit="many")
    assert status == 400 and body["s"] == "error"


async def test_quotes(server: Served, seeded: Seeded) -> None:
    status, _, body = await get(f"{server.url}/udf/quotes", symbols=f"{BTC},Nowhere:X/Y")
    assert status == 200 and body["s"] == "ok"
    ok, missing = body["d"]
    assert ok["s"] == "ok" and ok["n"] == BTC
    bars = series(seeded, BTC, "1")
    last_time, last = bars[-1]
    window = [b for t, b in bars if t > last_time - 86_400]
    values = ok["v"]
    assert values["lp"] == last.close
    assert values["high_price"] == max(b.high for b in window)
    assert values["low_price"] == min(b.low for b in window)
    assert values["volume"] == pytest.approx(float(sum(b.volume for b in window)))
    assert values["ch"] == pytest.approx(last.close - values["prev_close_price"], abs=0.01)
    assert missing == {"s": "error", "n": "Nowhere:X/Y", "v": {}}
    status, _, body = await get(f"{server.url}/udf/quotes")
    assert status == 400 and body["s"] == "error"


async def test_time(server: Served) -> None:
    status, _, body = await get(f"{server.url}/udf/time")
    assert status == 200 and isinstance(body, int)
    assert abs(body - time.time()) < 5


@pytest.mark.parametrize("code", ["1", "1S"])
async def test_marks(server: Served, seeded: Seeded, code: str) -> None:
    expected = sorted((b // 1000, kind) for (s, c, b), kind in seeded.marks.items() if s == BTC and c == code)[:200]
    assert len(expected) > 2, "the seed must produce crossovers"
    start, end = expected[0][0], expected[-1][0]  # both ends included
    status, _, marks = await get(f"{server.url}/udf/marks", symbol=BTC, resolution=code, **{"from": start, "to": end})
    assert status == 200
    assert marks["time"] == [t for t, _ in expected]
    assert marks["color"] == ["green" if k == "golden_cross" else "red" for _, k in expected]
    assert marks["kind"] == [k for _, k in expected], "marks carry their kind from the server"
    assert marks["label"] == ["G" if k == "golden_cross" else "D" for _, k in expected]
    n = len(expected)
    assert all(len(marks[c]) == n for c in ("id", "text", "label", "labelFontColor", "minSize", "kind"))
    assert len(set(marks["id"])) == n
    status, _, scale = await get(
        f"{server.url}/udf/timescale_marks", symbol=BTC, resolution=code, **{"from": start, "to": end}
    )
    assert status == 200
    assert [m["time"] for m in scale] == [t for t, _ in expected]
    assert all(set(m) >= {"id", "time", "color", "label", "tooltip"} for m in scale)


@pytest.mark.parametrize(("kind", "period", "code"), [("sma", 20, "1"), ("ema", 50, "5"), ("sma", 200, "1S")])
async def test_indicators_follow_history_rules(
    server: Served, seeded: Seeded, kind: str, period: int, code: str
) -> None:
    points = sorted(
        (b // 1000, v) for (s, c, k, p, b), v in seeded.indicators.items() if (s, c, k, p) == (BTC, code, kind, period)
    )
    url = f"{server.url}/api/indicators"
    base = {"symbol": BTC, "resolution": code, "kind": kind, "period": period}
    k = len(points) // 2
    _, _, body = await get(url, **base, **{"from": points[1][0], "to": points[k][0]})
    assert body["s"] == "ok"
    assert body["t"] == [t for t, _ in points[1:k]]
    assert body["v"] == pytest.approx([v for _, v in points[1:k]], rel=1e-9)
    _, _, body = await get(url, **base, to=points[k][0], countback=3)
    assert body["t"] == [t for t, _ in points[k - 3 : k]]
    end = points[-1][0] + 1
    _, _, body = await get(url, **base, **{"from": end, "to": end + 5})
    assert body == {"s": "no_data", "nextTime": points[-1][0]}
    status, _, body = await get(url, **{**base, "kind": "wma"}, to=end, countback=1)
    assert status == 404 and body["s"] == "error"
    status, _, body = await get(url, **{**base, "period": 7}, to=end, countback=1)
    assert status == 404 and f"{kind}(period=7) is not computed" in body["errmsg"]
    # the last N points: from 0, `to` ten years ahead
    _, _, body = await get(url, **base, **{"from": 0, "to": TEN_YEARS_AHEAD}, countback=3)
    assert body["t"] == [t for t, _ in points]
    _, _, body = await get(url, **base, to=TEN_YEARS_AHEAD, countback=3)
    assert body["t"] == [t for t, _ in points[-3:]]


@pytest.mark.parametrize("code", ["1S", "1"])
async def test_a_series_quiet_for_months_is_served_whole(server: Served, seeded: Seeded, code: str) -> None:
    """The seed's last tick is in 2024: `[first bar, now)` spans far more than the cap of
    nominal buckets at 1S and 1 (what the chart asks on a quiet symbol), but holds only a
    few thousand bars, so it is served, and so are its averages and marks."""
    bars = series(seeded, BTC, code)
    now = int(time.time())
    res = next(r for r in SUPPORTED if r.code == code)
    assert (now - bars[0][0]) // (res.fixed_ms // 1000) > 100_000, "the range must be long in nominal buckets"
    window = {"symbol": BTC, "resolution": code, "from": bars[0][0], "to": now}
    status, _, body = await get(f"{server.url}/udf/history", **window)
    assert status == 200
    expect_bars(body, bars)
    for kind, period in (("sma", 20), ("ema", 50)):
        points = sorted(
            (b // 1000, v)
            for (s, c, k, p, b), v in seeded.indicators.items()
            if (s, c, k, p) == (BTC, code, kind, period)
        )
        status, _, body = await get(f"{server.url}/api/indicators", **window, kind=kind, period=period)
        assert status == 200, body
        assert body["t"] == [t for t, _ in points]
        assert body["v"] == pytest.approx([v for _, v in points], rel=1e-9)
    marks = sorted(b // 1000 for (s, c, b) in seeded.marks if (s, c) == (BTC, code))
    for path in ("marks", "timescale_marks"):
        status, _, body = await get(f"{server.url}/udf/{path}", **window)
        assert status == 200, body
        times = body["time"] if path == "marks" else [m["time"] for m in body]
        assert times == marks


async def test_a_range_holding_more_than_the_cap(capped_server: Served, seeded: Seeded) -> None:
    """Without countback a range holding more bars than the cap is refused, saying what to
    do; with countback the newest cap bars are served; a long range holding fewer is served."""
    bars = series(seeded, BTC, "1S")
    assert len(bars) > SMALL_CAP
    window = {"symbol": BTC, "resolution": "1S", "from": 0, "to": TEN_YEARS_AHEAD}
    status, headers, body = await get(f"{capped_server.url}/udf/history", **window)
    assert status == 400 and set(body) == {"s", "errmsg"}
    assert f"more than {SMALL_CAP} bars" in body["errmsg"] and "countback" in body["errmsg"]
    assert headers["Cache-Control"] == "no-store"
    status, _, body = await get(f"{capped_server.url}/udf/history", **window, countback=10)
    assert status == 200
    expect_bars(body, bars[-SMALL_CAP:])
    few = series(seeded, BTC, "60")
    assert len(few) <= SMALL_CAP
    status, _, body = await get(f"{capped_server.url}/udf/history", **{**window, "resolution": "60"})
    expect_bars(body, few)

    points = [b for (s, c, k, p, b) in seeded.indicators if (s, c, k, p) == (BTC, "1S", "sma", 20)]
    assert len(points) > SMALL_CAP
    status, _, body = await get(f"{capped_server.url}/api/indicators", **window, kind="sma", period=20)
    assert status == 400 and f"more than {SMALL_CAP} points" in body["errmsg"]
    status, _, body = await get(f"{capped_server.url}/api/indicators", **window, kind="sma", period=20, countback=5)
    assert status == 200 and body["t"] == sorted(b // 1000 for b in points)[-SMALL_CAP:]

    many = [b for (s, c, b) in seeded.marks if (s, c) == (BTC, "1S")]
    assert len(many) > SMALL_CAP
    for path in ("marks", "timescale_marks"):
        status, _, body = await get(f"{capped_server.url}/udf/{path}", **window)
        assert status == 400 and f"more than {SMALL_CAP} marks" in body["errmsg"], body
        assert "narrower range" in body["errmsg"]
    few_marks = sorted(b // 1000 for (s, c, b) in seeded.marks if (s, c) == (BTC, "1"))
    assert len(few_marks) <= SMALL_CAP
    status, _, body = await get(f"{capped_server.url}/udf/marks", **{**window, "resolution": "1"})
    assert status == 200 and body["time"] == few_marks


async def test_live_range_is_not_cached(server: Served) -> None:
    now = int(time.time())
    _, headers, _ = await get(
        f"{server.url}/udf/history", symbol=BTC, resolution="1", **{"from": now - 600, "to": now + 60}
    )
    assert headers["Cache-Control"] == "no-cache"


async def test_cors_preflight_and_unknown_paths(server: Served) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.options(
            f"{server.url}/udf/history",
            headers={"Origin": "http://example.org", "Access-Control-Request-Method": "GET"},
        ) as response:
            assert response.status == 204
            assert response.headers["Access-Control-Allow-Origin"] == "*"
            assert "GET" in response.headers["Access-Control-Allow-Methods"]
            assert "Access-Control-Allow-Credentials" not in response.headers
        async with session.get(f"{server.url}/udf/nothing") as response:
            assert response.status == 404
            assert await response.json() == {"s": "error", "errmsg": "not found"}
        async with session.post(f"{server.url}/udf/history") as response:
            assert response.status == 405
            assert (await response.json())["s"] == "error"
        async with session.head(
            f"{server.url}/udf/history", params={"symbol": BTC, "resolution": "1", "to": 0}
        ) as head:
            assert head.status == 200 and head.headers["Content-Type"] == "application/json"
            assert head.headers["Access-Control-Allow-Origin"] == "*"
            assert await head.read() == b""


async def test_healthz_and_metrics(server: Served) -> None:
    status, _, body = await get(f"{server.url}/healthz")
    assert status == 200
    assert body["kafka"]["reachable"] is True
    assert body["database"]["reachable"] is True
    assert body["capability"] in ("postgresql", "timescaledb")
    assert body["engine"] == {"state": "starting"}, "no worker attached to this application"
    async with aiohttp.ClientSession() as session, session.get(f"{server.url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    assert 'candleflow_http_requests_total{endpoint="/udf/history"' in text
    assert "candleflow_http_request_seconds_bucket" in text
    assert "candleflow_sse_clients" in text


async def test_index_page(server: Served) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{server.url}/") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/html")
        assert response.headers["Server"] == "candleflow", "no versions in the Server header"
        assert "<html" in (await response.text()).lower()
