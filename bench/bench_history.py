"""`/udf/history` latency beside the bare SQL, same data, same run.

    eval "$(candleflow stack up)"; python bench/bench_history.py [--days 90] [--symbols 10]

Inserts `symbols` x `days` of 1-minute bars straight into a fresh database (COPY),
starts a `candleflow worker` on it, then for countback 300, 2 000 and 10 000 measures
p50/p99 of:

* `http`: GET /udf/history through the worker (parameters, query, JSON, HTTP);
* `sql`: the endpoint's own query (`candleflow.store.queries.HISTORY_SQL`) from here;
* `sql_rows`: the plainest read, `SELECT … ORDER BY bucket DESC LIMIT countback`.

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
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import asyncpg

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
                columns=[
                    "symbol", "resolution", "bucket", "open", "high", "low", "close", "volume", "trades",
                    "open_ts", "open_seq", "close_ts", "close_seq",
                ],
            )  # fmt: skip
        await conn.execute("ANALYZE bars")
    finally:
        await conn.close()


PLAIN_SQL = """
SELECT bucket, open, high, low, close, volume::float8 AS volume FROM bars
WHERE symbol = $1 AND resolution = '1' AND bucket < $2
ORDER BY bucket DESC LIMIT $3
"""


async def measure(url: str, db_url: str, symbols: list[str], start_s: int, end_s: int, requests: int) -> dict[str, Any]:
    rng = random.Random(42)
    results: dict[str, Any] = {}
    conn = await asyncpg.connect(db_url)
    async with aiohttp.ClientSession() as session:
        try:
            for countback in COUNTBACKS:
                http: list[float] = []
                sql: list[float] = []
                plain: list[float] = []
                n = requests if countback < 10_000 else max(20, requests // 4)
                for _ in range(n):
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
                    began = time.perf_counter()
                    async with session.get(f"{url}/udf/history", params=params) as response:
                        body = await response.read()
                    http.append(time.perf_counter() - began)
                    assert response.status == 200, body[:200]
                    began = time.perf_counter()
                    await conn.fetchrow(
                        HISTORY_SQL,
                        symbol,
                        "1",
                        datetime.fromtimestamp(frm, UTC),
                        datetime.fromtimestamp(to, UTC),
                        countback,
                    )
                    sql.append(time.perf_counter() - began)
                    began = time.perf_counter()
                    await conn.fetch(PLAIN_SQL, symbol, datetime.fromtimestamp(to, UTC), countback)
                    plain.append(time.perf_counter() - began)
                results[f"countback_{countback}"] = {
                    "http": percentiles(http),
                    "sql": percentiles(sql),
                    "sql_rows": percentiles(plain),
                    "response_bytes": len(body),
                }
        finally:
            await conn.close()
    return results


async def _prepare(stack: StackLike, symbols: list[str], days: int, end_s: int) -> str:
    db_url = await create_database(stack.database_url, "bench_history")
    began = time.perf_counter()
    await load_bars(db_url, symbols, days, end_s)
    print(
        f"loaded {len(symbols)} x {days} days of 1-minute bars in {time.perf_counter() - began:.1f} s", file=sys.stderr
    )
    return db_url


def run(stack_info: StackLike, *, symbols: int = 10, days: int = 90, requests: int = 200) -> dict[str, Any]:
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
    args = parser.parse_args()
    print(json.dumps(run(EnvStack(), symbols=args.symbols, days=args.days, requests=args.requests), indent=2))


if __name__ == "__main__":
    main()
