"""Scale-out of SSE clients: the engine alone + N web processes sharing one port, beside
today's all-in-one worker, in one run.

    eval "$(candleflow stack up)"; python -m bench.bench_scale [--seconds 10] [--quick]

Topologies, each on fresh topics and consumer group over one database:

* `all-in-one`: one `candleflow worker` (engine, hub and web application in one process);
* `engine + N web` (N = 1, 2): `candleflow worker --role engine` on a port of its own and
  N `candleflow web` processes sharing one port (`CANDLEFLOW_WEB_REUSE_PORT`: the kernel
  spreads the connections over them).

Per topology and client count, `bench_sse.drive` connects the clients (one readers
process, `bench/sse_readers.py`) through the chart port and sends 1,000 ticks/s of one
symbol: `WARMUP_S` unmeasured (why: its comment), then the measured window, in which
latency is tick sent → bar at the client's socket, for 100 clients spread over all of
them (the kernel's receive timestamp: one readers process reads every client on the
same two cores, and how long it takes to get to a client is its own delay, not the
server's; the p99 as that process read the bars is reported beside it). Reported
per scenario, all over the measured window: p50/p99; clients served (that got live bars
in it); per chart process the
connections it held, the share of a core it used while the ticks flowed and its resident
memory at the end; bar events per client per second and their size with the heartbeats
(the bandwidth side); and the chart processes' CPU time per live event delivered
(`cpu_us_per_event`: what a client costs, whatever else ran on the machine; the sizing
in docs/deployment.md multiplies it); the mean of each live stage (`/metrics`: tick
appended → read → committed → in the hub → written to the client; the hub's stages only
where one process serves the port). Every process is a `bench.common.Child`: a failed
scenario stops them, and `make bench` checks none is left.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from aiokafka import AIOKafkaProducer

from bench.bench_history import (
    LOAD_FROM_ONE_ADDRESS,
    EnvStack,
    StackLike,
    create_database,
    drop_database,
    free_port,
    percentiles,
)
from bench.bench_sse import STAGES, SYMBOL, create_topics, drive, metrics, stage_breakdown
from bench.common import Child, candleflow_executable
from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig

RATE = 1000.0
#: The live stages the engine measures; the hub measures the others (`bench_sse.STAGES`).
ENGINE_STAGES = ("append_to_read", "read_to_commit")
#: (topology, web processes, client counts): 0 web processes is the all-in-one worker.
TOPOLOGIES: tuple[tuple[str, int, tuple[int, ...]], ...] = (
    ("all-in-one", 0, (1000, 5000)),
    ("engine + 1 web", 1, (1000, 5000)),
    ("engine + 2 web", 2, (1000, 5000, 10000)),
)
READY_TIMEOUT_S = 120.0
#: Seconds of the same load before each scenario's measured window. In the first
#: seconds after the processes and clients start, the broker's JIT compiler and the
#: processes' first allocations share the two cores with the load: at 1,000 clients
#: behind one web process the p99 of the first 2 s was 66 ms, of later 2 s windows 39-51 ms.
WARMUP_S = 5.0


@dataclass
class Topology:
    """The processes of one topology and where charts connect."""

    name: str
    url: str
    port: int
    engine: Child
    chart_processes: list[Child]
    engine_url: str


def _json(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body: dict[str, Any] = json.load(response)
            return body
    except OSError:
        return None


def _listening(child: Child, port: int) -> bool:
    return any(
        c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
        for c in psutil.Process(child.pid).net_connections("tcp")
    )


def _wait(child: Child, port: int, engine: bool) -> None:
    """Until `child` listens on `port` and (for an engine) runs with its partitions."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if not child.alive:
            raise RuntimeError(f"process exited with {child.process.returncode}; see {child.log_path}")
        if _listening(child, port):
            health = _json(f"http://127.0.0.1:{port}/healthz") if engine else {}
            if health is not None and (not engine or health.get("engine", {}).get("partitions")):
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"not ready in {READY_TIMEOUT_S:.0f} s; see {child.log_path}")
        time.sleep(0.3)


@contextmanager
def topology(name: str, webs: int, base_env: dict[str, str], log_dir: Path) -> Iterator[Topology]:
    """The processes of `name` (see the module docstring), stopped on exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDLEFLOW_")} | base_env
    env |= {"CANDLEFLOW_WEB_HOST": "127.0.0.1", "CANDLEFLOW_LOG_LEVEL": "WARNING"}
    started: list[Child] = []
    slug = name.replace(" ", "").replace("+", "-")
    try:
        engine_port = free_port()
        role = "all" if webs == 0 else "engine"
        engine = Child(
            [candleflow_executable(), "worker", "--role", role, "-l", "warn"],
            env | {"CANDLEFLOW_WEB_PORT": str(engine_port)},
            log_dir / f"bench-scale-{slug}-engine.log",
        )
        started.append(engine)
        _wait(engine, engine_port, engine=True)
        if webs == 0:
            url = f"http://127.0.0.1:{engine_port}"
            yield Topology(name, url, engine_port, engine, [engine], url)
            return
        port = free_port()
        web_env = env | {"CANDLEFLOW_WEB_PORT": str(port), "CANDLEFLOW_WEB_REUSE_PORT": "true"}
        chart = [
            Child([candleflow_executable(), "web"], web_env, log_dir / f"bench-scale-{slug}-web{n}.log")
            for n in range(webs)
        ]
        started.extend(chart)
        for child in chart:
            _wait(child, port, engine=False)
        yield Topology(name, f"http://127.0.0.1:{port}", port, engine, chart, f"http://127.0.0.1:{engine_port}")
    finally:
        for child in started:
            child.stop()


def _held(child: Child, port: int) -> int:
    return sum(
        1
        for c in psutil.Process(child.pid).net_connections("tcp")
        if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port
    )


async def _measure(place: Topology, producer: AIOKafkaProducer, ticks_topic: str, clients_n: int,
                   seconds: float, warmup: float, base: float) -> dict[str, Any]:  # fmt: skip
    watched = [*place.chart_processes, place.engine]
    cpu_before: list[float] = []
    held: list[int] = []
    rss_mb: list[int] = []
    stages: list[dict[str, dict[str, Any]]] = []

    async def before() -> None:
        cpu_before.extend(child.cpu_seconds() for child in watched)
        held.extend(_held(child, place.port) for child in place.chart_processes)
        stages.extend(await _stages(place))

    async def during() -> list[float]:
        rss_mb.extend(round(child.rss_bytes() / 1e6) for child in watched)
        used = [child.cpu_seconds() - cpu for child, cpu in zip(watched, cpu_before, strict=True)]
        stages.extend(await _stages(place))
        return used

    started = time.monotonic()
    driven = await drive(
        place.url, producer, ticks_topic, clients=clients_n, rate=RATE, seconds=seconds, base=base,
        before=before, during=during, warmup=warmup,
    )  # fmt: skip
    window = seconds + 2.0  # the ticks, then the drain before `during`
    cpu = [round(used / window, 3) for used in driven.during]
    # after a warm-up every event of the window is a live one; without, each client's first is its current bar
    counts = driven.window_counts if warmup > 0 else [max(0, count - 1) for count in driven.counts]
    live_events = max(1, sum(counts))
    return {
        "topology": place.name,
        "web_processes": len(place.chart_processes) if place.name != "all-in-one" else 0,
        "clients": clients_n,
        "rate_per_s": RATE,
        "ticks": driven.ticks,
        "served": sum(1 for count in counts if count),
        "events_per_client_s": round(sum(counts) / len(counts) / window, 2),
        "bytes_per_event": round(driven.window_bytes / live_events),
        "cpu_us_per_event": round(1e6 * sum(driven.during[: len(place.chart_processes)]) / live_events, 2),
        "held_per_process": held,
        "cpu_per_process": cpu[: len(place.chart_processes)],
        "engine_cpu": cpu[-1],
        "rss_mb_per_process": rss_mb[: len(place.chart_processes)],
        "engine_rss_mb": rss_mb[-1],
        "load_avg": round(os.getloadavg()[0], 2),
        "stages_ms": _stage_means(place, *stages),
        **percentiles(driven.arrivals),
        "read_p99_ms": percentiles(driven.latencies)["p99_ms"],
        "scenario_s": round(time.monotonic() - started, 1),
    }


async def _stages(place: Topology) -> list[dict[str, dict[str, Any]]]:
    """The live-stage histograms of the engine and of the chart port's process."""
    async with aiohttp.ClientSession() as session:
        return [await metrics(session, place.engine_url), await metrics(session, place.url)]


def _stage_means(
    place: Topology,
    engine_before: dict[str, dict[str, Any]],
    chart_before: dict[str, dict[str, Any]],
    engine_after: dict[str, dict[str, Any]],
    chart_after: dict[str, dict[str, Any]],
) -> dict[str, float | None]:
    """Mean ms per live stage over a scenario: the engine's stages from the engine, the
    hub's from the chart process. With two web processes sharing the port, which one
    answers is the kernel's choice, so their stages are left out (None)."""
    engine = stage_breakdown(engine_before, engine_after)
    chart = stage_breakdown(chart_before, chart_after) if len(place.chart_processes) == 1 else {}
    means: dict[str, float | None] = {}
    for stage in STAGES:
        found = (engine if stage in ENGINE_STAGES else chart).get(stage, {})
        means[stage] = found.get("mean_ms")
    return means


async def _run_topology(
    name: str,
    webs: int,
    counts: tuple[int, ...],
    stack_info: StackLike,
    db_url: str,
    seconds: float,
    log_dir: Path,
    warmup: float = WARMUP_S,
) -> list[dict[str, Any]]:
    tag = uuid.uuid4().hex[:8]
    topics = {kind: f"bench.scale.{kind}.{tag}" for kind in ("ticks", "dead", "updates")}
    await create_topics(stack_info.kafka_bootstrap, {topics["ticks"]: 2, topics["dead"]: 1, topics["updates"]: 2})
    env = {
        **stack_info.env(),
        **LOAD_FROM_ONE_ADDRESS,
        "CANDLEFLOW_DATABASE_URL": db_url,
        "CANDLEFLOW_APP_ID": f"bench-scale-{tag}",
        "CANDLEFLOW_TICKS_TOPIC": topics["ticks"],
        "CANDLEFLOW_DEAD_TOPIC": topics["dead"],
        "CANDLEFLOW_UPDATES_TOPIC": topics["updates"],
        "CANDLEFLOW_SSE_MAX_CLIENTS": str(max(counts) + 500),
    }
    producer = clients.producer(KafkaConfig(stack_info.kafka_bootstrap), "bench", linger_ms=0)
    await producer.start()
    results = []
    try:
        with topology(name, webs, env, log_dir) as place:
            first = {"symbol": SYMBOL, "ts": int(time.time() * 1000), "price": 100.0, "qty": 0.1}
            await producer.send_and_wait(topics["ticks"], json.dumps(first).encode(), key=SYMBOL.encode())
            await _symbol_stored(place.url)
            for n, clients_n in enumerate(counts):
                print(f"   {name}: {clients_n:,} clients", file=sys.stderr, flush=True)
                base = 1000.0 * (n + 1)
                results.append(await _measure(place, producer, topics["ticks"], clients_n, seconds, warmup, base))
    finally:
        await producer.stop()
    return results


async def _symbol_stored(url: str) -> None:
    deadline = time.monotonic() + 60
    while _json(f"{url}/udf/symbols?symbol={SYMBOL.replace('/', '%2F')}") is None:
        if time.monotonic() > deadline:
            raise TimeoutError("the engine did not store the first tick in 60 s")
        await asyncio.sleep(0.2)


def run(
    stack_info: StackLike, *, seconds: float = 10.0, warmup: float = WARMUP_S, quick: bool = False
) -> list[dict[str, Any]]:
    """Every topology and client count (see the module docstring); one dict per scenario."""
    db_url = asyncio.run(create_database(stack_info.database_url, "bench_scale"))
    log_dir = Path(os.environ.get("TMPDIR", "/tmp"))
    results: list[dict[str, Any]] = []
    try:
        for name, webs, counts in TOPOLOGIES:
            chosen = counts[:1] + counts[-1:] if quick and len(counts) > 2 else counts
            results += asyncio.run(_run_topology(name, webs, chosen, stack_info, db_url, seconds, log_dir, warmup))
    finally:
        Child.stop_all()
        asyncio.run(drop_database(stack_info.database_url, db_url))
    return results


def target(result: dict[str, Any]) -> str:
    """The issue's target for a scenario (empty where it sets none)."""
    if result["web_processes"] and result["clients"] == 1000:
        return "p99 <= 50 ms"
    if result["web_processes"] == 2 and result["clients"] == 10000:
        return "all served, p99 <= 250 ms"
    return ""


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| topology | clients | served | held per chart process | CPU (cores) per chart process | engine CPU "
        "| RSS MB per chart process | events per client per s | CPU µs per event | p50 ms | p99 ms "
        "| p99 ms as read | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['topology']} | {r['clients']:,} | {r['served']:,} | {r['held_per_process']} | "
            f"{r['cpu_per_process']} | {r['engine_cpu']} | {r['rss_mb_per_process']} | {r['events_per_client_s']} | "
            f"{r['cpu_us_per_event']} | {r['p50_ms']} | {r['p99_ms']} | {r['read_p99_ms']} | {r['load_avg']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="candleflow SSE scale-out (CANDLEFLOW_* of a running stack)")
    parser.add_argument("--seconds", type=float, default=10.0, help="ticks are sent this long per scenario")
    parser.add_argument("--warmup", type=float, default=WARMUP_S, help="seconds of the same load before each window")
    parser.add_argument("--quick", action="store_true", help="fewer client counts")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args()
    results = run(EnvStack(), seconds=args.seconds, warmup=args.warmup, quick=args.quick)
    print(json.dumps(results, indent=2) if args.json else table(results))


if __name__ == "__main__":
    main()
