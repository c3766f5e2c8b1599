"""`/udf/history` latency beside the bare SQL, same data, same run.

    eval "$(candleflow stack up)"; python bench/bench_history.py [--days 90] [--symbols 10]

Inserts `symbols` x `days` of 1-minute bars straight into a fresh database (COPY, then
VACUUM ANALYZE), starts a `candleflow worker` on it, then for countback 300, 2 000 and
10 000 times each random range, in a shuffled order, through:

* `http`: GET /udf/history through the worker (parameters, query, JSON, HTTP), from
  a minimal keep-alive client (`bench.http_client`, as a load tool would send it);
* `http_aiohttp`: the same request through aiohttp's client, for comparison (its own
  Python per request is part of this figure);
* `http_floor`: GET /udf/time through the minimal client: the HTTP round trip alone;
* `sql`: the endpoint's own read (`candleflow.store.queries.history`: its statement and
  the columns built from the rows) from here;
* `sql_rows`: the plainest read, `SELECT … ORDER BY bucket DESC LIMIT countback`,

and `ratio_p50` / `ratio_p99`: `http` over `sql_rows` (targets: p50 ≤ 1.5x at every
countback, p99 ≤ 10 ms at 2 000). It does so in `--rounds` rounds (each every countback
in turn) and reports the median of the rounds, with each round's figures beside it.
What is measured is a steady worker answering requests one at a time: timing starts once
`/healthz` shows its engine running with its partitions, after the loaded table was
vacuumed and checkpointed, and this process's own garbage collector is paused during a
round (see `client_collector_paused`).
Per round it also reads `server_mean_ms`, the mean time the worker's middleware measured
for the history answers (the rest of `http` is the HTTP hop and the client), and
`cpu_waiting`, the share of the round during which some task of the machine waited for
a CPU (`/proc/pressure/cpu`): above a few percent, something else was running.
`--breakdown` also times, from here, the ways of turning the rows into the answer
(`bench.history_breakdown`: rows, column arrays, JSON built in PostgreSQL) to show where
the time goes.

`run(stack_info)` returns the figures (milliseconds) for `make bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
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

from bench.http_client import KeepAliveClient
from candleflow.core.settings import Settings
from candleflow.domain.bars import BAR_FIELDS
from candleflow.store import queries
from candleflow.store.migrate import migrate

COUNTBACKS = (300, 2_000, 10_000)
#: A benchmark's clients all come from 127.0.0.1, faster and in greater numbers than the
#: per-client limits let one client be: they are lifted (the limits are not what is measured).
LOAD_FROM_ONE_ADDRESS = {
    "CANDLEFLOW_RATE_LIMIT": "0",
    "CANDLEFLOW_SSE_MAX_PER_CLIENT": "100000",
    "CANDLEFLOW_SSE_MAX_SUBS_PER_CLIENT": "100000",
    "CANDLEFLOW_WEB_MAX_READS": "10000",
}
MINUTE_S = 60
#: What each request is timed through (see the module's docstring).
WAYS = ("http", "http_aiohttp", "http_floor", "sql", "sql_rows")


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


def steady(url: str) -> bool:
    """True once the worker at `url` is healthy and its engine runs with its partitions
    assigned: its start-up (group join, first lag report, heap settling) is over, so it
    is not part of what is measured."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            health = json.load(response)
    except OSError:
        return False
    engine = health.get("engine", {})
    return bool(health.get("status") == "ok" and engine.get("state") == "running" and engine.get("partitions"))


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
            if steady(url):
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
        # As autovacuum and a checkpoint would leave the table; done now, neither starts
        # mid-measurement (nor do the loaded pages wait dirty for a reader to write them).
        await conn.execute("VACUUM (ANALYZE) bars")
        await conn.execute("CHECKPOINT")
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


async def server_seconds(session: aiohttp.ClientSession, url: str) -> tuple[float, float]:
    """(sum of seconds, count) of `/udf/history` answers, as the worker's middleware timed
    them (`candleflow_http_request_seconds`): the server's share of the round trip."""
    async with session.get(f"{url}/metrics") as response:
        text = await response.text()
    found = dict.fromkeys(("sum", "count"), 0.0)
    for line in text.splitlines():
        for stat in found:
            if line.startswith(f'candleflow_http_request_seconds_{stat}{{endpoint="/udf/history"}}'):
                found[stat] = float(line.rsplit(" ", 1)[1])
    return found["sum"], found["count"]


def cpu_waiting_us() -> float | None:
    """Microseconds during which some runnable task of this machine waited for a CPU
    (`/proc/pressure/cpu`), or None where Linux does not report it."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return None
    return float(line.rsplit("total=", 1)[1])


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The median over rounds of every figure, each with the rounds it came from."""
    out: dict[str, Any] = {}
    for way in WAYS:
        out[way] = {stat: round(statistics.median(r[way][stat] for r in rounds), 3) for stat in ("p50_ms", "p99_ms")}
        out[way]["runs_p50"] = [r[way]["p50_ms"] for r in rounds]
        out[way]["runs_p99"] = [r[way]["p99_ms"] for r in rounds]
        out[way]["n"] = sum(r[way]["n"] for r in rounds)
    for name in ("ratio_p50", "ratio_p99"):
        out[name] = round(out["http"][f"{name[-3:]}_ms"] / out["sql_rows"][f"{name[-3:]}_ms"], 2)
        out[f"runs_{name}"] = [r[name] for r in rounds]
    for name in ("server_mean_ms", "cpu_waiting"):
        known = [r[name] for r in rounds if r[name] is not None]
        out[name] = round(statistics.median(known), 3) if known else None
    out["response_bytes"] = rounds[-1]["response_bytes"]
    return out


@contextlib.contextmanager
def client_collector_paused() -> Iterator[None]:
    """No cyclic garbage collection in this (measuring) process during a round.

    The bare query's thousands of records push this process's collector into full
    collections of 12-26 ms about once a second (seen with `gc.callbacks`); each one
    lands in whichever request was being timed, so a p99 of 200 requests was the
    client's pause as often as the server's. A load tool has no collector; the rows die
    by reference counting anyway, and what cycles there are go between rounds."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


async def measure_round(
    url: str, conn: asyncpg.Connection, clients: tuple[aiohttp.ClientSession, KeepAliveClient],
    symbols: list[str], start_s: int, end_s: int, countback: int, requests: int, rng: random.Random,
) -> dict[str, Any]:  # fmt: skip
    session, lean = clients
    samples: dict[str, list[float]] = {way: [] for way in WAYS}
    server_before, waiting_before, began_round = await server_seconds(session, url), cpu_waiting_us(), time.monotonic()
    answers: dict[str, Any] = {}
    for _ in range(requests):
        symbol = rng.choice(symbols)
        to = rng.randrange(start_s + countback * MINUTE_S, end_s) // MINUTE_S * MINUTE_S
        frm = to - countback * MINUTE_S
        params: dict[str, str | int] = {"symbol": symbol, "resolution": "1", "from": frm, "to": to}
        params["countback"] = countback
        end = datetime.fromtimestamp(to, UTC)
        ways: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("http", partial(lean.get, "/udf/history", params)),
            ("http_aiohttp", partial(fetch_body, session, f"{url}/udf/history", params)),
            ("http_floor", partial(lean.get, "/udf/time", {})),
            ("sql", partial(queries.history, conn, symbol, "1", frm, to, countback, Settings.max_span_bars)),
            ("sql_rows", partial(conn.fetch, PLAIN_SQL, symbol, end, countback)),
        ]  # fmt: skip
        rng.shuffle(ways)  # each way is the first to read its range (from colder caches) as often
        for name, call in ways:
            began = time.perf_counter()
            answers[name] = await call()
            samples[name].append(time.perf_counter() - began)
        assert answers["http"].status == 200, answers["http"].body[:200]
        assert answers["http"].body == answers["http_aiohttp"], "the two clients got different answers"
    server_after, waiting_after = await server_seconds(session, url), cpu_waiting_us()
    figures: dict[str, Any] = {way: percentiles(taken) for way, taken in samples.items()}
    served = server_after[1] - server_before[1]
    figures["server_mean_ms"] = round((server_after[0] - server_before[0]) / served * 1000, 3) if served else None
    figures["cpu_waiting"] = (
        None
        if waiting_before is None or waiting_after is None
        else round((waiting_after - waiting_before) / 1e6 / (time.monotonic() - began_round), 3)
    )
    figures["ratio_p50"] = round(figures["http"]["p50_ms"] / figures["sql_rows"]["p50_ms"], 2)
    figures["ratio_p99"] = round(figures["http"]["p99_ms"] / figures["sql_rows"]["p99_ms"], 2)
    figures["response_bytes"] = len(answers["http"].body)
    return figures


async def measure(
    url: str, db_url: str, symbols: list[str], start_s: int, end_s: int, requests: int, rounds: int
) -> dict[str, Any]:
    """`rounds` rounds, each every countback in turn, so that a slow minute of the machine
    shows as one round apart from the others instead of as one countback's figure."""
    rng = random.Random(42)
    per_round: dict[int, list[dict[str, Any]]] = {countback: [] for countback in COUNTBACKS}
    conn = await asyncpg.connect(db_url)
    async with aiohttp.ClientSession() as session, KeepAliveClient(url) as lean:
        try:
            for _ in range(rounds):
                for countback in COUNTBACKS:
                    wanted = requests if countback < 10_000 else max(20, requests // 4)
                    with client_collector_paused():
                        figures = await measure_round(
                            url, conn, (session, lean), symbols, start_s, end_s, countback, wanted, rng
                        )
                    per_round[countback].append(figures)
        finally:
            await conn.close()
    return {f"countback_{countback}": summary(found) for countback, found in per_round.items()}


async def _prepare(stack: StackLike, symbols: list[str], days: int, end_s: int) -> str:
    db_url = await create_database(stack.database_url, "bench_history")
    began = time.perf_counter()
    await load_bars(db_url, symbols, days, end_s)
    print(
        f"loaded {len(symbols)} x {days} days of 1-minute bars in {time.perf_counter() - began:.1f} s", file=sys.stderr
    )
    return db_url


def run(
    stack_info: StackLike,
    *,
    symbols: int = 10,
    days: int = 90,
    requests: int = 200,
    rounds: int = 5,
    with_breakdown: bool = False,
) -> dict[str, Any]:
    """Benchmark against a running stack; returns the figures (milliseconds)."""
    names = [f"Bench:S{i:02d}/USD" for i in range(symbols)]
    end_s = (int(time.time()) - 86_400) // 86_400 * 86_400
    start_s = end_s - days * 86_400
    db_url = asyncio.run(_prepare(stack_info, names, days, end_s))
    tag = uuid.uuid4().hex[:8]
    env = {
        **stack_info.env(),
        **LOAD_FROM_ONE_ADDRESS,
        "CANDLEFLOW_DATABASE_URL": db_url,
        "CANDLEFLOW_APP_ID": f"bench-history-{tag}",
        "CANDLEFLOW_TICKS_TOPIC": f"bench.history.ticks.{tag}",
        "CANDLEFLOW_DEAD_TOPIC": f"bench.history.dead.{tag}",
        "CANDLEFLOW_UPDATES_TOPIC": f"bench.history.updates.{tag}",
    }
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-history-{tag}.log"
    try:
        with worker(env, log_path) as url:
            figures = asyncio.run(measure(url, db_url, names, start_s, end_s, requests, rounds))
        if with_breakdown:
            from bench import history_breakdown  # it reads this module's baseline query

            figures["breakdown"] = asyncio.run(history_breakdown.run(db_url, names, start_s, end_s, requests))
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
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every countback; figures are their medians")
    parser.add_argument("--breakdown", action="store_true", help="also time the ways of building the answer")
    args = parser.parse_args()
    result = run(
        EnvStack(),
        symbols=args.symbols,
        days=args.days,
        requests=args.requests,
        rounds=args.rounds,
        with_breakdown=args.breakdown,
    )
    print(json.dumps(result, indent=2))
    for countback in COUNTBACKS:
        data = result[f"countback_{countback}"]
        http, bare, floor = data["http"], data["sql_rows"], data["http_floor"]
        print(
            f"countback {countback:>6,}: http p50 {http['p50_ms']} ms = {data['ratio_p50']}x bare SQL "
            f"{bare['p50_ms']} ms (target <= 1.5x; rounds {data['runs_ratio_p50']}), "
            f"p99 {http['p99_ms']} ms (bare {bare['p99_ms']}; rounds {http['runs_p99']}); "
            f"endpoint query alone {data['sql']['p50_ms']} ms, server {data['server_mean_ms']} ms (mean), "
            f"/udf/time {floor['p50_ms']} ms; CPU waited {data['cpu_waiting']}",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
