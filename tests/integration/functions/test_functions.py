"""User-defined functions in a real worker: with late ticks and SIGKILLs on the way,
every stored value and mark of the shipped examples equals an independent reference over
the reference bars; they are served by name (`/api/indicators`, `/api/functions`,
`/udf/marks`); a failing function is counted and shown while everything else goes on;
`db verify` agrees, and lists an indicator value and a mark that were tampered with."""

from __future__ import annotations

import asyncio
import math
import random
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from candleflow.functions.examples import Bollinger
from tests.harness import engine as harness
from tests.harness.failing_function import fails_at
from tests.harness.kafka import create_topics
from tests.harness.reference import (
    OHLCV,
    reference_bars,
    reference_bollinger,
    reference_close_crosses_ema,
    reference_indicators,
    reference_rsi,
    reference_vwap,
)
from tests.harness.tickgen import generate
from tests.harness.worker import candleflow_executable

pytestmark = pytest.mark.integration

PARTITIONS = 3
FUNCTIONS = (
    "rsi(period=14), vwap(period=20), bollinger(period=20, width=2), close_crosses_ema(period=50),"
    " tests.harness.failing_function:Failing"
)
ROOT = Path(__file__).resolve().parents[3]
Values = dict[tuple[str, str, str, int, int], float]


def expected_values(bars: dict[tuple[str, str, int], Any]) -> tuple[Values, dict[tuple[str, str, int, str], str]]:
    """(kind, period) rows and marks of every configured function, from the references."""
    values, crosses = reference_indicators(bars, (20, 50, 200), (20, 50))
    marks = {(*key, "crossover(fast=20,slow=50)"): kind for key, kind in crosses.items()}
    series: dict[tuple[str, str], list[OHLCV]] = defaultdict(list)
    for (symbol, code, bucket), bar in sorted(bars.items()):
        series[(symbol, code)].append(OHLCV(bucket, bar.open, bar.high, bar.low, bar.close, float(bar.volume)))
    bands = Bollinger(period=20, width=2.0)
    for (symbol, code), points in series.items():
        buckets = [p.bucket for p in points]
        lines = {
            ("rsi", 14): reference_rsi(points, 14),
            ("vwap", 20): reference_vwap(points, 20),
            ("failing", 0): [None if fails_at(p.close) else p.close for p in points],
        }
        for index, line in enumerate(bands.outputs):
            lines[bands.stored(line)] = [None if b is None else b[index] for b in reference_bollinger(points, 20, 2.0)]
        for (kind, period), line_values in lines.items():
            for bucket, value in zip(buckets, line_values, strict=True):
                if value is not None:
                    values[(symbol, code, kind, period, bucket)] = value
        for bucket, kind in reference_close_crosses_ema(points, 50).items():
            marks[(symbol, code, bucket, "close_crosses_ema(period=50)")] = kind
    return values, marks


async def stored(database_url: str) -> tuple[Values, dict[tuple[str, str, int, str], str]]:
    conn = await asyncpg.connect(database_url)
    try:
        ms = "(extract(epoch from bucket) * 1000)::bigint"
        values = await conn.fetch(f"SELECT symbol, resolution, kind, period, {ms} AS b, value FROM indicators")
        marks = await conn.fetch(f"SELECT symbol, resolution, {ms} AS b, signal, kind FROM marks")
    finally:
        await conn.close()
    return (
        {(r["symbol"], r["resolution"], r["kind"], r["period"], r["b"]): r["value"] for r in values},
        {(r["symbol"], r["resolution"], r["b"], r["signal"]): r["kind"] for r in marks},
    )


async def get(session: aiohttp.ClientSession, url: str, **query: Any) -> tuple[int, Any]:
    async with session.get(url, params={k: str(v) for k, v in query.items()}) as response:
        return response.status, await (response.json() if "json" in response.content_type else response.text())


def run_verify(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [candleflow_executable(), "db", "verify"], env=env, capture_output=True, text=True, timeout=300, check=False
    )


async def test_functions_are_exact_served_and_survive_failures(
    stack: Any, names: Any, database_url: str, worker_factory: Any
) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: PARTITIONS, names.dead_topic: PARTITIONS})
    env = names.env(
        stack,
        database_url,
        CANDLEFLOW_TICKS_PARTITIONS=str(PARTITIONS),
        CANDLEFLOW_BATCH_MAX="1500",
        CANDLEFLOW_FUNCTIONS=FUNCTIONS,
    )
    env["PYTHONPATH"] = str(ROOT)  # the operator's module (here: a test module) must import
    worker = worker_factory.start(env)
    await asyncio.to_thread(worker.wait_ready)
    ticks = generate(24_000, days=1.5, seed=61, late_fraction=0.08)
    streaming = asyncio.ensure_future(harness.publish(stack.kafka_bootstrap, names.ticks_topic, ticks, pace=0.15))
    rnd = random.Random(17)
    for _ in range(3):
        await asyncio.sleep(rnd.uniform(0.5, 2.5))
        worker.kill()
        worker.restart()
        await asyncio.to_thread(worker.wait_ready)
    await streaming
    await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)

    bars = reference_bars(await harness.log_ticks(stack.kafka_bootstrap, names.ticks_topic))
    assert await harness.stored_bars(database_url) == bars
    want_values, want_marks = expected_values(bars)
    have_values, have_marks = await stored(database_url)
    state = {k: v for k, v in have_values.items() if k[2] in ("rsi.avg_gain", "rsi.avg_loss")}
    assert len(state) == 2 * sum(1 for k in have_values if k[2] == "rsi"), "RSI keeps its state beside each value"
    have_values = {k: v for k, v in have_values.items() if k not in state}
    assert have_values.keys() == want_values.keys()
    off = [k for k, v in want_values.items() if not math.isclose(v, have_values[k], rel_tol=1e-12, abs_tol=1e-12)]
    assert not off, f"{len(off)} values differ, e.g. {[(k, want_values[k], have_values[k]) for k in off[:3]]}"
    assert have_marks == want_marks
    assert any(k[3].startswith("close_crosses_ema") for k in have_marks), "no close/EMA cross to compare"
    assert any(k[2] == "rsi" for k in have_values) and any(k[2] == "failing" for k in have_values)

    async with aiohttp.ClientSession() as session:
        status, catalogue = await get(session, f"{worker.url}/api/functions")
        assert status == 200
        entries = {f["key"]: f for f in catalogue["functions"]}
        assert entries["rsi(period=14)"]["pane"] == "own" and entries["rsi(period=14)"]["state"]
        assert entries["bollinger(period=20,width=2.0)"]["outputs"] == ["middle", "upper", "lower"]
        assert entries["close_crosses_ema(period=50)"]["type"] == "signal"
        assert {p["name"] for p in entries["vwap(period=20)"]["params"]} == {"period"}

        symbol, code = "Coinbase:BTC/USD", "5"
        now = int(time.time())
        span = {"symbol": symbol, "resolution": code, "from": now - 3 * 86_400, "to": now + 3_600}
        status, rsi = await get(session, f"{worker.url}/api/indicators", kind="rsi", period=14, **span)
        assert status == 200 and rsi["s"] == "ok", rsi
        assert rsi["v"] == [have_values[(symbol, code, "rsi", 14, t * 1000)] for t in rsi["t"]]
        status, upper = await get(session, f"{worker.url}/api/indicators", kind="bollinger", output="upper", **span)
        assert status == 200
        upper_kind = Bollinger(period=20, width=2.0).stored("upper")[0]
        assert upper["v"] == [have_values[(symbol, code, upper_kind, 20, t * 1000)] for t in upper["t"]]
        status, sma = await get(session, f"{worker.url}/api/indicators", kind="sma", period=50, **span)
        assert status == 200 and len(sma["t"]) > 10
        for bad, message in (
            ({"kind": "macd"}, "no function 'macd'"),
            ({"kind": "rsi", "period": 15}, "not computed"),
            ({"kind": "rsi", "window": 3}, "unknown parameter"),
            ({"kind": "bollinger", "output": "top"}, "not a line"),
            ({"kind": "crossover"}, "is a signal"),
        ):
            status, body = await get(session, f"{worker.url}/api/indicators", **{**span, **bad})
            assert status == 404 and message in body["errmsg"], (bad, body)

        status, marks = await get(session, f"{worker.url}/udf/marks", **span)
        assert status == 200
        mine = sorted((b // 1000, kind) for (s, c, b, signal), kind in have_marks.items() if (s, c) == (symbol, code))
        assert sorted(zip(marks["time"], marks["kind"], strict=True)) == mine
        status, scale = await get(session, f"{worker.url}/udf/timescale_marks", **span)
        assert status == 200 and {m["signal"] for m in scale} <= {k[3] for k in have_marks}

        status, metrics = await get(session, f"{worker.url}/metrics")
        assert 'candleflow_function_errors_total{function="failing()"}' in metrics
        status, health = await get(session, f"{worker.url}/healthz")
        assert health["engine"]["functions"]["failing()"]["errors"] > 0
    assert "function failing() failed at" in worker.log_path.read_text()
    worker.terminate()

    clean = await asyncio.to_thread(run_verify, env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "UPDATE indicators SET value = value + 1 WHERE (symbol, resolution, kind, bucket) = ("
            " SELECT symbol, resolution, kind, bucket FROM indicators WHERE kind = 'rsi' ORDER BY bucket LIMIT 1)"
        )
        await conn.execute(
            "DELETE FROM marks WHERE (symbol, resolution, bucket) = ("
            " SELECT symbol, resolution, bucket FROM marks WHERE signal LIKE 'close_crosses_ema%' LIMIT 1)"
        )
    finally:
        await conn.close()
    dirty = await asyncio.to_thread(run_verify, env)
    assert dirty.returncode == 1
    rows = [line for line in dirty.stdout.splitlines() if ":" in line.split("  ")[0]]
    assert [("value wrong" in r and "rsi/14" in r) for r in rows].count(True) == 1, dirty.stdout
    missing = [r for r in rows if "mark missing" in r]
    assert missing and all("close_crosses_ema(period=50)" in r or "crossover" in r for r in missing), dirty.stdout
    assert len(rows) == 1 + len(missing), dirty.stdout
