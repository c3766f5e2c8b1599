"""What checking access tokens costs, beside the same work with access open, same run.

    eval "$(candleflow stack up)"; python -m bench.bench_access [--quick]

Two `candleflow worker`s on one database: `open` (`CANDLEFLOW_ACCESS=open`) and `tokens`
(`CANDLEFLOW_ACCESS=tokens`, an HMAC secret), each with topics of its own, both with the
per-client limits lifted (every benchmark client is 127.0.0.1; the limits are not what is
measured), and timing starts once both are steady (`/healthz`: engine running).

* `/udf/history`, countback 300 (a chart's usual request, where a fixed cost per request
  weighs most): every request goes to both workers, in random order, from one keep-alive
  client (`bench.http_client`); the `tokens` one carries `Authorization: Bearer`. p50 and
  p99 per round, medians of the rounds. Target: p50 with tokens <= 1.05x open.
* The SSE fan-out: 1,000 clients of `/udf/streams` (on `tokens`, the token in the
  address, as a browser's `EventSource` sends it) while ticks go to that worker's topic
  at 200/s: tick -> client latency (`bench.bench_sse.scenario`), rounds alternating the
  workers. A token is checked when a stream opens or changes, not per event; this shows
  that the fan-out pays nothing for it.

`run(stack_info, quick)` returns the figures for `make bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.bench_history import (
    LOAD_FROM_ONE_ADDRESS,
    MINUTE_S,
    EnvStack,
    StackLike,
    client_collector_paused,
    create_database,
    drop_database,
    load_bars,
    percentiles,
)
from bench.bench_sse import Scenario, create_topics, scenario
from bench.common import Child, Figure, candleflow_executable, median
from bench.http_client import KeepAliveClient
from candleflow.access.tokens import issue
from candleflow.stack.ports import free_port

SECRET = "bench-access-secret-" + "x" * 32
COUNTBACK = 300
HISTORY_SYMBOLS = [f"Bench:A{i:02d}/USD" for i in range(10)]
FAN_OUT = Scenario("1,000 clients", 1000, 200.0, "")
WAYS = ("open", "tokens")
READY_S = 90.0


class Worker:
    """One worker of the comparison: its process, address, topics and the token it is sent."""

    def __init__(self, way: str, stack: StackLike, database_url: str, log_dir: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        self.way = way
        self.symbol = f"Bench:SSE{way.upper()}/USD"
        self.ticks_topic = f"bench.access.ticks.{tag}"
        self.updates_topic = f"bench.access.updates.{tag}"
        self.dead_topic = f"bench.access.dead.{tag}"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        tokens = way == "tokens"
        self.token = issue(SECRET, "bench", ["Bench:*"], 3600) if tokens else ""
        self.admin = issue(SECRET, "bench-admin", [], 3600, admin=True) if tokens else ""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CANDLEFLOW_")}
        env |= stack.env() | LOAD_FROM_ONE_ADDRESS
        env |= {
            "CANDLEFLOW_DATABASE_URL": database_url,
            "CANDLEFLOW_APP_ID": f"bench-access-{tag}",
            "CANDLEFLOW_TICKS_TOPIC": self.ticks_topic,
            "CANDLEFLOW_UPDATES_TOPIC": self.updates_topic,
            "CANDLEFLOW_DEAD_TOPIC": self.dead_topic,
            "CANDLEFLOW_TICKS_PARTITIONS": "2",
            "CANDLEFLOW_SSE_MAX_CLIENTS": "5000",
            "CANDLEFLOW_WEB_HOST": "127.0.0.1",
            "CANDLEFLOW_WEB_PORT": str(port),
            "CANDLEFLOW_LOG_LEVEL": "WARNING",
            "CANDLEFLOW_ACCESS": way,
        }
        if tokens:
            env["CANDLEFLOW_TOKEN_SECRET"] = SECRET
        self.child = Child([candleflow_executable(), "worker", "-l", "warn"], env, log_dir / f"worker-{way}.log")

    def headers(self, admin: bool = False) -> dict[str, str]:
        token = self.admin if admin else self.token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def steady(self) -> bool:
        """Healthy, its engine running with its partitions (detailed health: the admin's)."""
        request = urllib.request.Request(f"{self.url}/healthz", headers=self.headers(admin=True))
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                health = json.load(response)
        except OSError:
            return False
        engine = health.get("engine", {})
        return bool(health.get("status") == "ok" and engine.get("state") == "running" and engine.get("partitions"))

    async def wait_steady(self) -> None:
        deadline = time.monotonic() + READY_S
        while not await asyncio.to_thread(self.steady):
            if not self.child.alive:
                raise RuntimeError(f"the {self.way} worker exited; see {self.child.log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the {self.way} worker was not steady in {READY_S:.0f} s; see {self.child.log_path}"
                )
            await asyncio.sleep(0.3)


async def history(workers: list[Worker], end_s: int, days: int, requests: int, rounds: int) -> dict[str, Any]:
    """p50/p99 of /udf/history per worker per round, and their medians."""
    rng = random.Random(7)
    per_round: dict[str, list[dict[str, float]]] = {w.way: [] for w in workers}
    async with contextlib.AsyncExitStack() as opened:
        clients = {w.way: await opened.enter_async_context(KeepAliveClient(w.url)) for w in workers}
        for _ in range(rounds):
            samples: dict[str, list[float]] = {w.way: [] for w in workers}
            with client_collector_paused():
                for _ in range(requests):
                    await _request(clients, workers, samples, _params(rng, end_s - days * 86_400, end_s), rng)
            for way, taken in samples.items():
                per_round[way].append(percentiles(taken))
    return {
        way: {
            stat: median([r[stat] for r in found]) for stat in ("p50_ms", "p99_ms")
        } | {"runs_p50": [r["p50_ms"] for r in found], "runs_p99": [r["p99_ms"] for r in found]}
        for way, found in per_round.items()
    }  # fmt: skip


def _params(rng: random.Random, start_s: int, end_s: int) -> dict[str, str | int]:
    to = rng.randrange(start_s + COUNTBACK * MINUTE_S, end_s) // MINUTE_S * MINUTE_S
    return {
        "symbol": rng.choice(HISTORY_SYMBOLS), "resolution": "1", "countback": COUNTBACK,
        "from": to - COUNTBACK * MINUTE_S, "to": to,
    }  # fmt: skip


async def _request(
    clients: dict[str, KeepAliveClient], workers: list[Worker], samples: dict[str, list[float]],
    params: dict[str, str | int], rng: random.Random,
) -> None:  # fmt: skip
    """One request to each worker, in random order (each reads the range first, from
    colder caches, as often); both must give the same answer."""
    order = workers[:]
    rng.shuffle(order)
    bodies = []
    for w in order:
        began = time.perf_counter()
        answer = await clients[w.way].get("/udf/history", params, w.headers())
        samples[w.way].append(time.perf_counter() - began)
        assert answer.status == 200, (w.way, answer.status, answer.body[:200])
        bodies.append(answer.body)
    assert bodies[0] == bodies[1], "the two workers answered differently"


async def first_tick(producer: AIOKafkaProducer, w: Worker) -> None:
    """The worker's SSE symbol exists (its engine stored a first tick)."""
    record = {"symbol": w.symbol, "ts": int(time.time() * 1000), "price": 100.0, "qty": 0.1}
    await producer.send_and_wait(w.ticks_topic, json.dumps(record).encode(), key=w.symbol.encode())
    deadline = time.monotonic() + 30
    async with KeepAliveClient(w.url) as client:
        while (await client.get("/udf/symbols", {"symbol": w.symbol}, w.headers())).status != 200:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {w.way} worker did not store its first tick in 30 s")
            await asyncio.sleep(0.2)


async def fan_out(bootstrap: str, workers: list[Worker], seconds: float, rounds: int) -> dict[str, Any]:
    """Tick -> SSE client latency per worker, rounds alternating which goes first."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    found: dict[str, list[dict[str, Any]]] = {w.way: [] for w in workers}
    try:
        for w in workers:
            await first_tick(producer, w)
        for n in range(rounds):
            for w in workers if n % 2 == 0 else workers[::-1]:
                query = f"&token={w.token}" if w.token else ""
                base = 1000.0 * (len(found[w.way]) + 1)
                result = await scenario(
                    w.url, producer, w.ticks_topic, FAN_OUT, seconds, base, symbol=w.symbol, query=query
                )
                found[w.way].append(result)
    finally:
        await producer.stop()
    return {
        way: {
            "p50_ms": median([r["p50_ms"] for r in results]),
            "p99_ms": median([r["p99_ms"] for r in results]),
            "runs_p50": [r["p50_ms"] for r in results],
            "runs_p99": [r["p99_ms"] for r in results],
            "served": min(r["served"] for r in results),
        }
        for way, results in found.items()
    }


async def measure(stack: StackLike, quick: bool, log_dir: Path) -> dict[str, Any]:
    days = 10 if quick else 30
    end_s = (int(time.time()) - 86_400) // 86_400 * 86_400
    database_url = await create_database(stack.database_url, "bench_access")
    workers: list[Worker] = []
    try:
        await load_bars(database_url, HISTORY_SYMBOLS, days, end_s)
        workers = [Worker(way, stack, database_url, log_dir) for way in WAYS]
        await create_topics(
            stack.kafka_bootstrap,
            {topic: 2 for w in workers for topic in (w.ticks_topic, w.updates_topic, w.dead_topic)},
        )
        for w in workers:
            await w.wait_steady()
        return {
            "history": await history(workers, end_s, days, 100 if quick else 300, 3 if quick else 5),
            "fan_out": await fan_out(stack.kafka_bootstrap, workers, 3.0 if quick else 5.0, 1 if quick else 4),
        }
    finally:
        for w in workers:
            w.child.stop()
        await drop_database(stack.database_url, database_url)


def figures(result: dict[str, Any]) -> list[Figure]:
    found = []
    hist, fan = result["history"], result["fan_out"]
    for stat, target in (("p50", "<= 1.05x"), ("p99", "report")):
        found.append(
            Figure("access", f"/udf/history countback {COUNTBACK} {stat}, with an access token",
                   hist["tokens"][f"{stat}_ms"], "ms", "access open", hist["open"][f"{stat}_ms"], target,
                   runs=hist["tokens"][f"runs_{stat}"], baseline_runs=hist["open"][f"runs_{stat}"],
                   higher_is_better=False)
        )  # fmt: skip
    for stat in ("p50", "p99"):
        found.append(
            Figure("access", f"tick -> SSE client {stat}, {FAN_OUT.name}, {FAN_OUT.rate:g} ticks/s, tokens",
                   fan["tokens"][f"{stat}_ms"], "ms", "access open", fan["open"][f"{stat}_ms"], "report",
                   runs=fan["tokens"][f"runs_{stat}"], baseline_runs=fan["open"][f"runs_{stat}"],
                   higher_is_better=False,
                   note=f"served {fan['tokens']['served']} / {fan['open']['served']} of {FAN_OUT.clients}")
        )  # fmt: skip
    return found


def run(stack: StackLike, quick: bool = False) -> list[Figure]:
    log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-access-{uuid.uuid4().hex[:8]}"
    log_dir.mkdir(parents=True)
    return figures(asyncio.run(measure(stack, quick, log_dir)))


def main() -> None:
    parser = argparse.ArgumentParser(description="the cost of access tokens (uses CANDLEFLOW_* of a running stack)")
    parser.add_argument("--quick", action="store_true", help="smaller workloads")
    args = parser.parse_args()
    try:
        found = run(EnvStack(), args.quick)
    finally:
        Child.stop_all()
    for f in found:
        ratio = f"{f.ratio:.3f}x" if f.ratio is not None else "-"
        print(f"{f.figure}: {f.value:.3f} {f.unit} vs {f.baseline_name} {f.baseline} ({ratio}; target {f.target})")
        print(f"    runs {f.runs} vs {f.baseline_runs}{'; ' + f.note if f.note else ''}", file=sys.stderr)


if __name__ == "__main__":
    main()
