"""Tick-to-client latency of the live path, beside a bare Kafka round trip of the same run.

    eval "$(candleflow stack up)"; python bench/bench_sse.py [--seconds 5] [--only 1000]

Starts one `candleflow worker` (bar engine + SSE hub) on a fresh database and topics.
Per scenario, a separate process (`bench/sse_readers.py`) opens `clients` connections
to `/udf/streams?sub=<symbol>|1S` and only timestamps lines, so the readers' cost
stays out of the worker; then ticks with unique prices go to `ticks.raw` at `rate`
per second for `seconds` (`drive`, which `bench/bench_scale.py` runs too). 100
clients spread over all of them (every k-th connection) are sampled. Latency = the
unix time a sampled client read a `bar` whose close is a tick's price minus the unix
time that tick was sent (engine batch, commit, bars.updates, hub fan-out, HTTP).
Updates coalesce per bar, so a client may skip intermediate prices; only received ones
count.

Scenarios: 1 client at 500 ticks/s; 1,000 clients at 1,000 ticks/s; 5,000 clients at
200 ticks/s (all must be served; the worker's RSS is reported). Baseline: a bare
aiokafka produce → consume round trip on a topic of its own, at 500 messages/s. For
each scenario the worker's `/metrics` stage histograms (`candleflow_live_stage_seconds`)
give where the time went: mean and approximate p99 per stage over that scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the clone, for `bench.*`
from bench.bench_history import (
    LOAD_FROM_ONE_ADDRESS,
    EnvStack,
    StackLike,
    create_database,
    drop_database,
    percentiles,
    worker,
)

SYMBOL = "Bench:SSE/USD"
REPO = Path(__file__).resolve().parents[1]
STAGES = ("append_to_read", "read_to_commit", "commit_to_hub", "hub_to_client")


@dataclass(frozen=True)
class Scenario:
    name: str
    clients: int
    rate: float
    target: str


SCENARIOS = (
    Scenario("1 client", 1, 500.0, "p99 <= 50 ms"),
    Scenario("1,000 clients", 1000, 1000.0, "p50 <= 30 ms, p99 <= 100 ms"),
    Scenario("5,000 clients", 5000, 200.0, "all served, p99 <= 250 ms"),
)


async def create_topics(bootstrap: str, topics: dict[str, int]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, n, 1) for name, n in topics.items()])
    finally:
        await admin.close()


async def kafka_round_trip(bootstrap: str, topic: str, messages: int = 1000, rate: float = 500.0) -> dict[str, Any]:
    """Bare aiokafka: produce with linger 0, consume from an assigned partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await consumer.start()
    await producer.start()
    latencies: list[float] = []
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_end(tp)
        await consumer.position(tp)

        async def consume() -> None:
            while len(latencies) < messages:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    now = time.time()
                    latencies.extend(now - float(r.value or b"0") for r in records)

        reading = asyncio.create_task(consume())
        for _ in range(messages):
            await producer.send(topic, repr(time.time()).encode(), partition=0)
            await asyncio.sleep(1 / rate)
        await asyncio.wait_for(reading, 30)
    finally:
        await producer.stop()
        await consumer.stop()
    return percentiles(latencies)


def parse_stages(text: str) -> dict[str, dict[str, Any]]:
    """Per stage: histogram buckets (le -> cumulative count), sum and count."""
    stages: dict[str, dict[str, Any]] = {s: {"buckets": {}, "sum": 0.0, "count": 0.0} for s in STAGES}
    for line in text.splitlines():
        match = re.match(r"candleflow_live_stage_seconds_(bucket|sum|count)\{(.*)\} (\S+)$", line)
        if not match:
            continue
        kind, labels, value = match.groups()
        found = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        stage = stages.get(found.get("stage", ""))
        if stage is None:
            continue
        if kind == "bucket":
            stage["buckets"][float(found["le"])] = float(value)
        else:
            stage[kind] = float(value)
    return stages


def stage_breakdown(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean and approximate p99 (upper bucket bound) per stage over one scenario, in ms."""
    breakdown: dict[str, dict[str, float]] = {}
    for stage in STAGES:
        count = after[stage]["count"] - before[stage]["count"]
        if count <= 0:
            breakdown[stage] = {"n": 0}
            continue
        total = after[stage]["sum"] - before[stage]["sum"]
        p99 = float("inf")
        for le in sorted(after[stage]["buckets"]):
            if after[stage]["buckets"][le] - before[stage]["buckets"].get(le, 0.0) >= 0.99 * count:
                p99 = le
                break
        breakdown[stage] = {"n": int(count), "mean_ms": round(total / count * 1000, 2), "p99_le_ms": p99 * 1000}
    return breakdown


async def metrics(session: aiohttp.ClientSession, url: str) -> dict[str, dict[str, Any]]:
    async with session.get(f"{url}/metrics") as response:
        return parse_stages(await response.text())


def worker_rss_mb(port: int) -> float:
    """RSS of the process listening on `port` (the worker)."""
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return round(psutil.Process(conn.pid).memory_info().rss / 1e6, 1)
    return float("nan")


@dataclass
class Driven:
    """What one run of readers and ticks gave: the latencies (seconds) of the sampled
    clients, tick sent → bar read by the readers process, bar events per client, ticks
    sent, `during()`'s result, and the bytes all clients received; `window_counts` and
    `window_bytes`: the same after the warm-up; `arrivals`: the latencies to the bar's
    arrival at the client's socket (see `bench/sse_readers.py`)."""

    latencies: list[float]
    counts: list[int]
    ticks: int
    during: Any = None
    received_bytes: int = 0
    window_counts: list[int] = field(default_factory=list)
    window_bytes: int = 0
    arrivals: list[float] = field(default_factory=list)


async def drive(
    url: str,
    producer: AIOKafkaProducer,
    ticks_topic: str,
    *,
    clients: int,
    rate: float,
    seconds: float,
    base: float,
    sample: int = 100,
    before: Callable[[], Awaitable[Any]] | None = None,
    during: Callable[[], Awaitable[Any]] | None = None,
    symbol: str = SYMBOL,
    query: str = "",
    warmup: float = 0.0,
) -> Driven:
    """`clients` readers (`bench/sse_readers.py`, a process of their own) on `url`, then
    ticks of unique prices at `rate` for `warmup` seconds, unmeasured, and for `seconds`.
    `sample` clients spread over all of them (every k-th connection) timestamp their
    bars. `before()` runs once the readers are connected and warmed up, `during()` once
    the ticks are sent and drained. The clients follow `symbol` (`query` is appended to
    their address: `&token=…`)."""
    path = f"/udf/streams?sub={quote(f'{symbol}|1S')}{query}"
    readers = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.sse_readers", "--url", url, "--path", path,
        "--clients", str(clients), "--sample", str(min(clients, sample)),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=REPO, limit=1 << 28,
    )  # fmt: skip
    assert readers.stdin is not None and readers.stdout is not None
    sent: dict[float, float] = {}
    try:
        line = await asyncio.wait_for(readers.stdout.readline(), 300)
        if line.strip() != b"ready":
            raise RuntimeError(f"readers did not connect: {line!r}")
        await asyncio.sleep(1.0)

        async def ticks(seconds: float, first: int, measured: bool) -> int:
            """Ticks `first`, `first + 1`, ... at `rate` for `seconds`; the next number."""
            n, started = first, time.monotonic()
            while (elapsed := time.monotonic() - started) < seconds:
                due_now = first + int(elapsed * rate)
                while n <= due_now:
                    price = round(base + n / 100, 2)
                    now = time.time()
                    record = {"symbol": symbol, "ts": int(now * 1000), "price": price, "qty": 0.1}
                    if measured:
                        sent[price] = now
                    await producer.send(ticks_topic, orjson.dumps(record), key=symbol.encode())
                    n += 1
                await asyncio.sleep(0.005)
            return n

        warmed = await ticks(warmup, 1, measured=False) if warmup > 0 else 1
        if warmup > 0:
            readers.stdin.write(b"mark\n")
            await readers.stdin.drain()
        if before is not None:
            await before()
        n = await ticks(seconds, warmed, measured=True) - warmed
        await producer.flush()
        await asyncio.sleep(2.0)
        after = await during() if during is not None else None
        readers.stdin.write(b"stop\n")
        await readers.stdin.drain()
        result = orjson.loads(await asyncio.wait_for(readers.stdout.readline(), 120))
    finally:
        with contextlib.suppress(ProcessLookupError):
            readers.kill()
        await readers.wait()
    measured = [(sent[close], arrived, read) for close, arrived, read in result["samples"] if close in sent]
    if not measured:
        got = result["samples"][:5]
        raise RuntimeError(f"{clients} clients: no tick reached a client (events {result['counts'][:5]}, first {got})")
    return Driven(
        [read - at for at, _, read in measured],
        result["counts"],
        n,
        after,
        result["bytes"],
        result["window_counts"],
        result["window_bytes"],
        [arrived - at for at, arrived, _ in measured],
    )


def served(counts: list[int]) -> int:
    """Clients that got a live bar (the current bar comes first, then live ones)."""
    return sum(1 for c in counts if c > 1)


async def scenario(
    url: str, producer: AIOKafkaProducer, ticks_topic: str, spec: Scenario, seconds: float, base: float,
    *, symbol: str = SYMBOL, query: str = "",
) -> dict[str, Any]:  # fmt: skip
    """`spec`'s clients on `/udf/streams?sub=<symbol>|1S` (`query` appended: `&token=…`)."""
    async with aiohttp.ClientSession() as session:
        stages: dict[str, dict[str, Any]] = {}

        async def before() -> None:
            stages["before"] = await metrics(session, url)

        async def after() -> None:
            stages["after"] = await metrics(session, url)

        driven = await drive(
            url, producer, ticks_topic, clients=spec.clients, rate=spec.rate, seconds=seconds, base=base,
            before=before, during=after, symbol=symbol, query=query,
        )  # fmt: skip
    rss = worker_rss_mb(int(url.rsplit(":", 1)[1]))
    return {
        "scenario": spec.name,
        "clients": spec.clients,
        "rate_per_s": spec.rate,
        "ticks": driven.ticks,
        "served": served(driven.counts),
        "target": spec.target,
        **percentiles(driven.latencies),
        "worker_rss_mb": rss,
        "stages": stage_breakdown(stages["before"], stages["after"]),
    }


async def first_tick(url: str, producer: AIOKafkaProducer, ticks_topic: str) -> None:
    """A first tick of `SYMBOL`, and a wait until the worker knows the symbol (streams need it)."""
    first = {"symbol": SYMBOL, "ts": int(time.time() * 1000), "price": 100.0, "qty": 0.1}
    await producer.send_and_wait(ticks_topic, orjson.dumps(first), key=SYMBOL.encode())
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + 30
        while True:
            async with session.get(f"{url}/udf/symbols", params={"symbol": SYMBOL}) as response:
                if response.status == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError("the engine did not store the first tick in 30 s")
            await asyncio.sleep(0.2)


async def measure(url: str, bootstrap: str, ticks_topic: str, probe_topic: str, seconds: float,
                  specs: tuple[Scenario, ...]) -> dict[str, Any]:  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    try:
        await first_tick(url, producer, ticks_topic)
        baseline = await kafka_round_trip(bootstrap, probe_topic)
        results = []
        for n, spec in enumerate(specs):
            results.append(await scenario(url, producer, ticks_topic, spec, seconds, 1000.0 * (n + 1)))
    finally:
        await producer.stop()
    return {"kafka_round_trip": baseline, "scenarios": results}


def run(stack_info: StackLike, *, seconds: float = 5.0, only: int | None = None) -> dict[str, Any]:
    """Benchmark against a running stack; returns latency figures (milliseconds)."""
    specs = tuple(s for s in SCENARIOS if only is None or s.clients == only)
    tag = uuid.uuid4().hex[:8]
    topics = {
        "ticks": f"bench.sse.ticks.{tag}",
        "dead": f"bench.sse.dead.{tag}",
        "updates": f"bench.sse.updates.{tag}",
        "probe": f"bench.sse.probe.{tag}",
    }
    db_url = asyncio.run(create_database(stack_info.database_url, "bench_sse"))
    asyncio.run(
        create_topics(
            stack_info.kafka_bootstrap,
            {topics["ticks"]: 2, topics["dead"]: 1, topics["updates"]: 2, topics["probe"]: 1},
        )
    )
    env = {
        **stack_info.env(),
        "CANDLEFLOW_DATABASE_URL": db_url,
        "CANDLEFLOW_APP_ID": f"bench-sse-{tag}",
        "CANDLEFLOW_TICKS_TOPIC": topics["ticks"],
        "CANDLEFLOW_DEAD_TOPIC": topics["dead"],
        "CANDLEFLOW_UPDATES_TOPIC": topics["updates"],
        **LOAD_FROM_ONE_ADDRESS,
        "CANDLEFLOW_SSE_MAX_CLIENTS": str(max(s.clients for s in SCENARIOS) + 100),
    }
    log_path = Path("/tmp") / f"bench-sse-{tag}.log"
    try:
        with worker(env, log_path) as url:
            return asyncio.run(
                measure(url, stack_info.kafka_bootstrap, topics["ticks"], topics["probe"], seconds, specs)
            )
    finally:
        asyncio.run(drop_database(stack_info.database_url, db_url))


def table(result: dict[str, Any]) -> str:
    base = result["kafka_round_trip"]
    lines = [
        f"bare aiokafka produce -> consume: p50 {base['p50_ms']} ms, p99 {base['p99_ms']} ms",
        "| scenario | ticks/s | served | p50 ms | p99 ms | RSS MB | " + " | ".join(STAGES) + " | target |",
        "|---" * (7 + len(STAGES)) + "|",
    ]
    for r in result["scenarios"]:
        stages = " | ".join(
            f"{r['stages'][s].get('mean_ms', '-')} (p99 <= {r['stages'][s].get('p99_le_ms', '-')})" for s in STAGES
        )
        lines.append(
            f"| {r['scenario']} | {r['rate_per_s']:g} | {r['served']}/{r['clients']} | {r['p50_ms']} | "
            f"{r['p99_ms']} | {r['worker_rss_mb']} | {stages} | {r['target']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="candleflow live latency benchmark (CANDLEFLOW_* of a running stack)")
    parser.add_argument("--seconds", type=float, default=5.0, help="ticks are sent this long per scenario")
    parser.add_argument("--only", type=int, help="run only the scenario with this many clients")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args()
    result = run(EnvStack(), seconds=args.seconds, only=args.only)
    print(json.dumps(result, indent=2) if args.json else table(result))


if __name__ == "__main__":
    main()
