"""`/udf/history` latency beside the bare SQL, same data, same run.

    eval "$(candleflow stack up)"; python bench/bench_history.py [--days 90] [--symbols 10]

Inserts `symbols` x `days` of 1-minute bars straight into a fresh database (COPY),
starts a `candleflow worker` on it, then for countback 300, 2 000 and 10 000 measures
p50/p99 of:

* `http`: GET /udf/history through the worker (parameters, query, JSON, HTTP), from
  a minimal keep-alive client (`bench.http_client`, as a load tool would send it);
* `http_aiohttp`: the same request through aiohttp's client, for comparison (its own
  Python per request is part of this figure);
* `sql`: the endpoint's own query (`candleflow.store.queries.HISTORY_SQL`) from here;
* `sql_rows`: the plainest read, `SELECT … ORDER BY bucket DESC LIMIT countback`,

and `ratio_p50` / `ratio_p99`: `http` over `sql_rows` (targets: p50 ≤ 1.5x at every
countback, p99 ≤ 10 ms at 2 000). `--breakdown` also times, from here, the ways of
turning the rows into the answer (columns and JSON built in SQL, or rows decoded by
asyncpg and encoded with orjson) to show where the time goes.

`run(stack_info)` returns the figures (milliseconds) for `make bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import asyncpg
import orjson

from bench.http_client import KeepAliveClient
from candleflow.core.settings import Settings
from candleflow.domain.bars import BAR_FIELDS
from candleflow.store import queries
from candleflow.store.migrate import migrate
from candleflow.store.queries import HISTORY_SQL

COUNTBACKS = (300, 2_000, 10_000)
MINUTE_S = 60


class StackLike(Protocol):
    @property
    def kafka_bootstrap(self) -> str: ...
    @property
    def database_url(self) -> str: ...
    def env(self) -> dict[str, str]: ...


class EnvStack:
    """The stack named by CANDLEFLOW_* variables (after `eval "$(candleflow stack up)"`)."""

    def __init__(self) -> None:
        self.kafka_bootstrap = os.environ.get("CANDLEFLOW_KAFKA_BOOTSTRAP", "localhost:9092")
        self.database_url = os.environ.get(
            "CANDLEFLOW_DATABASE_URL", "postgresql://candleflow@localhost:5432/candleflow"
        )

    def env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k.startswith("CANDLEFLOW_")}


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
        "n": len(ordered),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def worker(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """A `candleflow worker` on a free port; yields its base URL, stops it afterwards."""
    port = free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith("CANDLEFLOW_")}
    full.update(env)
    full.update(
        {"CANDLEFLOW_WEB_PORT": str(port), "CANDLEFLOW_WEB_HOST": "127.0.0.1", "CANDLEFLOW_LOG_LEVEL": "WARNING"}
    )
    executable = str(Path(sys.executable).parent / "candleflow")
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [executable, "worker", "-l", "warn"], env=full, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"worker exited with {process.returncode}; see {log_path}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker not ready in 90 s; see {log_path}")
            time.sleep(0.3)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def create_database(admin_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"{admin_url.rsplit('/', 1)[0]}/{name}"
    await migrate(url)
    return url


async def drop_database(admin_url: str, url: str) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


async def load_bars(url: str, symbols: list[str], days: int, end_s: int) -> None:
    """`days` of 1-minute bars per symbol ending at `end_s`, by COPY."""
    start_s = end_s - days * 86_400
    conn = await asyncpg.connect(url)
    try:
        for n, symbol in enumerate(symbols):
            exchange, pair = symbol.split(":")
            base, quote = pair.split("/")
            first, last = datetime.fromtimestamp(start_s, UTC), datetime.fromtimestamp(end_s, UTC)
            await conn.execute(
                "INSERT INTO symbols VALUES ($1, $2, $3, $4, 2, $5, $6)", symbol, exchange, base, quote, first, last
            )
            rng = random.Random(n)
            price = 100.0 * (n + 1)
            rows = []
            for t in range(start_s, end_s, MINUTE_S):
                close = round(price * (1 + rng.uniform(-0.001, 0.001)), 2)
                high, low = max(price, close) + 0.01, min(price, close) - 0.01
                ms = t * 1000
                rows.append(
                    (symbol, "1", datetime.fromtimestamp(t, UTC), price, high, low, close, 1.5, 10, ms, 0, ms, 0)
                )
                price = close
            await conn.copy_records_to_table(
                "bars",
                records=rows,
                columns=["symbol", "resolution", "bucket", *BAR_FIELDS],
            )
        await conn.execute("ANALYZE bars")
    finally:
        await conn.close()


PLAIN_SQL = """
SELECT bucket, open, high, low, close, volume::float8 AS volume FROM bars
WHERE symbol = $1 AND resolution = '1' AND bucket < $2
ORDER BY bucket DESC LIMIT $3
"""


async def fetch_body(session: aiohttp.ClientSession, url: str, params: dict[str, str | int]) -> bytes:
    async with session.get(url, params=params) as response:
        return await response.read()


async def measure(url: str, db_url: str, symbols: list[str], start_s: int, end_s: int, requests: int) -> dict[str, Any]:
    rng = random.Random(42)
    results: dict[str, Any] = {}
    conn = await asyncpg.connect(db_url)
    async with aiohttp.ClientSession() as session, KeepAliveClient(url) as lean:
        try:
            for countback in COUNTBACKS:
                samples: dict[str, list[float]] = {"http": [], "http_aiohttp": [], "sql": [], "sql_rows": []}
                for _ in range(requests if countback < 10_000 else max(20, requests // 4)):
                    symbol = rng.choice(symbols)
                    to = rng.randrange(start_s + countback * MINUTE_S, end_s) // MINUTE_S * MINUTE_S
                    frm = to - countback * MINUTE_S
                    params: dict[str, str | int] = {
                        "symbol": symbol,
                        "resolution": "1",
                        "from": frm,
                        "to": to,
                        "countback": countback,
                    }
                    start, end = datetime.fromtimestamp(frm, UTC), datetime.fromtimestamp(to, UTC)
                    ways: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                        ("http", partial(lean.get, "/udf/history", params)),
                        ("http_aiohttp", partial(fetch_body, session, f"{url}/udf/history", params)),
                        ("sql", partial(conn.fetchrow, HISTORY_SQL, symbol, "1", start, end, countback,
                                        Settings.max_span_bars)),
                        ("sql_rows", partial(conn.fetch, PLAIN_SQL, symbol, end, countback)),
                    ]  # fmt: skip
                    rng.shuffle(ways)  # each way is the first to read its range (from colder caches) as often
                    answers: dict[str, Any] = {}
                    for name, call in ways:
                        began = time.perf_counter()
                        answers[name] = await call()
                        samples[name].append(time.perf_counter() - began)
                    assert answers["http"].status == 200, answers["http"].body[:200]
                    assert answers["http"].body == answers["http_aiohttp"], "the two clients got different answers"
                figures = {name: percentiles(taken) for name, taken in samples.items()}
                results[f"countback_{countback}"] = {
                    **figures,
                    "ratio_p50": round(figures["http"]["p50_ms"] / figures["sql_rows"]["p50_ms"], 2),
                    "ratio_p99": round(figures["http"]["p99_ms"] / figures["sql_rows"]["p99_ms"], 2),
                    "response_bytes": len(answers["http"].body),
                }
        finally:
            await conn.close()
    return results


_SQL_COLUMNS = """
WITH picked AS (
    SELECT bucket, open, high, low, close, volume FROM bars
    WHERE symbol = $1 AND resolution = '1' AND bucket < $2
    ORDER BY bucket DESC LIMIT $3
)
SELECT coalesce(array_agg(extract(epoch FROM bucket)::int8 ORDER BY bucket), '{}') AS t,
       coalesce(array_agg(open ORDER BY bucket), '{}') AS o, coalesce(array_agg(high ORDER BY bucket), '{}') AS h,
       coalesce(array_agg(low ORDER BY bucket), '{}') AS l, coalesce(array_agg(close ORDER BY bucket), '{}') AS c,
       coalesce(array_agg(volume::float8 ORDER BY bucket), '{}') AS v
FROM picked
"""
_SQL_JSON = """
WITH picked AS (
    SELECT bucket, open, high, low, close, volume FROM bars
    WHERE symbol = $1 AND resolution = '1' AND bucket < $2
    ORDER BY bucket DESC LIMIT $3
)
SELECT json_build_object('s', 'ok', 't', array_agg(extract(epoch FROM bucket)::int8 ORDER BY bucket),
       'o', array_agg(open ORDER BY bucket), 'h', array_agg(high ORDER BY bucket), 'l', array_agg(low ORDER BY bucket),
       'c', array_agg(close ORDER BY bucket), 'v', array_agg(volume::float8 ORDER BY bucket))::text
FROM picked
"""
_SQL_EPOCH_ROWS = """
SELECT extract(epoch FROM bucket)::int8, open, high, low, close, volume::float8 FROM bars
WHERE symbol = $1 AND resolution = '1' AND bucket < $2
ORDER BY bucket DESC LIMIT $3
"""


async def breakdown(db_url: str, symbols: list[str], end_s: int, requests: int) -> dict[str, Any]:
    """p50/p99 of each way to build the answer from the same rows, from this process."""
    conn = await asyncpg.connect(db_url)
    to = datetime.fromtimestamp(end_s - 3600, UTC)

    async def columns_in_sql(symbol: str, countback: int) -> bytes:
        row = await conn.fetchrow(_SQL_COLUMNS, symbol, to, countback)
        return orjson.dumps({"s": "ok", **dict(row)})

    async def json_in_sql(symbol: str, countback: int) -> bytes:
        text: str = await conn.fetchval(_SQL_JSON, symbol, to, countback)
        return text.encode()

    async def rows_then_orjson(symbol: str, countback: int) -> bytes:
        rows = await conn.fetch(_SQL_EPOCH_ROWS, symbol, to, countback)
        rows.reverse()
        t, o, h, low, c, v = zip(*rows, strict=True)
        return orjson.dumps({"s": "ok", "t": t, "o": o, "h": h, "l": low, "c": c, "v": v})

    async def served(symbol: str, countback: int) -> bytes:
        bars = await queries.history(conn, symbol, "1", end_s - 3600, end_s - 3600, countback)
        return orjson.dumps({"s": "ok", "t": bars.t, "o": bars.o, "h": bars.h, "l": bars.l, "c": bars.c, "v": bars.v})

    async def rows_only(symbol: str, countback: int) -> bytes:
        await conn.fetch(PLAIN_SQL, symbol, to, countback)
        return b""

    ways = {
        "sql_rows (baseline)": rows_only,
        "columns sorted in SQL (array_agg ORDER BY) + orjson": columns_in_sql,
        "JSON text from PostgreSQL": json_in_sql,
        "rows decoded one by one + orjson": rows_then_orjson,
        "served: queries.history + orjson": served,
    }
    out: dict[str, Any] = {}
    try:
        for countback in COUNTBACKS:
            for name, way in ways.items():
                samples = []
                for i in range(requests if countback < 10_000 else max(20, requests // 4)):
                    began = time.perf_counter()
                    await way(symbols[i % len(symbols)], countback)
                    samples.append(time.perf_counter() - began)
                out[f"countback_{countback} {name}"] = percentiles(samples)
    finally:
        await conn.close()
    return out


async def _prepare(stack: StackLike, symbols: list[str], days: int, end_s: int) -> str:
    db_url = await create_database(stack.database_url, "bench_history")
    began = time.perf_counter()
    await load_bars(db_url, symbols, days, end_s)
    print(
        f"loaded {len(symbols)} x {days} days of 1-minute bars in {time.perf_counter() - began:.1f} s", file=sys.stderr
    )
    return db_url


def run(
    stack_info: StackLike, *, symbols: int = 10, days: int = 90, requests: int = 200, with_breakdown: bool = False
) -> dict[str, Any]:
    """Benchmark against a running stack; returns the figures (milliseconds)."""
    names = [f"Bench:S{i:02d}/USD" for i in range(symbols)]
    end_s = (int(time.time()) - 86_400) // 86_400 * 86_400
    start_s = end_s - days * 86_400
    db_url = asyncio.run(_prepare(stack_info, names, days, end_s))
    tag = uuid.uuid4().hex[:8]
    env = {
        **stack_info.env(),
        "CANDLEFLOW_DATABASE_URL": db_url,
        "CANDLEFLOW_APP_ID": f"bench-history-{tag}",
        "CANDLEFLOW_TICKS_TOPIC": f"bench.history.ticks.{tag}",
        "CANDLEFLOW_DEAD_TOPIC": f"bench.history.dead.{tag}",
        "CANDLEFLOW_UPDATES_TOPIC": f"bench.history.updates.{tag}",
    }
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-history-{tag}.log"
    try:
        with worker(env, log_path) as url:
            figures = asyncio.run(measure(url, db_url, names, start_s, end_s, requests))
        if with_breakdown:
            figures["breakdown"] = asyncio.run(breakdown(db_url, names, end_s, requests))
    finally:
        asyncio.run(drop_database(stack_info.database_url, db_url))
    return {"bars": symbols * days * 1440, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(
        description="candleflow /udf/history benchmark (uses CANDLEFLOW_* of a running stack)"
    )
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--requests", type=int, default=200, help="requests per countback (a quarter for 10 000)")
    parser.add_argument("--breakdown", action="store_true", help="also time the ways of building the answer")
    args = parser.parse_args()
    result = run(
        EnvStack(), symbols=args.symbols, days=args.days, requests=args.requests, with_breakdown=args.breakdown
    )
    print(json.dumps(result, indent=2))
    for countback in COUNTBACKS:
        data = result[f"countback_{countback}"]
        print(
            f"countback {countback:>6,}: http p50 {data['http']['p50_ms']} ms = {data['ratio_p50']}x bare SQL "
            f"(target <= 1.5x), p99 {data['http']['p99_ms']} ms = {data['ratio_p99']}x",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
