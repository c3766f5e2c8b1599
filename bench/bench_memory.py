"""Worker memory over a long synthetic run: RSS after the warm-up beside RSS at the end,
while `candleflow ingest synthetic` feeds 100 symbols at a steady rate.

The real figure is 10 minutes at 5,000 ticks/s, RSS at 10 minutes over RSS at 2 minutes
(flat is <= 1.1). `CANDLEFLOW_BENCH_MEMORY_MINUTES` shortens a trial run; the warm-up
sample is then taken at a fifth of the run. The feed runs in its own process so that the
worker's RSS is the engine and web server alone; the ledger's progress shows that the
worker kept up (a worker that falls behind holds more records and measures the wrong
thing).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

from bench.bench_engine import fresh_database, ledger_progress
from bench.common import Child, Figure, candleflow_executable, run_logs
from candleflow.stack import StackInfo
from candleflow.stack.ports import free_port

SYMBOLS = ",".join(f"Mem:S{i:03d}/USD" for i in range(100))
MINUTES_VARIABLE = "CANDLEFLOW_BENCH_MEMORY_MINUTES"
SAMPLE_S = 5.0


def soak_minutes(default: float = 10.0) -> float:
    configured = os.environ.get(MINUTES_VARIABLE, "").strip()
    if not configured:
        return default
    try:
        minutes = float(configured)
    except ValueError:
        raise SystemExit(f"{MINUTES_VARIABLE} must be a number of minutes, not {configured!r}") from None
    if minutes < 1:
        raise SystemExit(f"{MINUTES_VARIABLE} must be at least 1 (minute), not {configured!r}")
    return minutes


async def run(info: StackInfo, rate: int = 5000, minutes: float = 10.0) -> list[Figure]:
    database_url = await fresh_database(info)
    tag = uuid.uuid4().hex[:8]
    app_id = f"bench-memory-{tag}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDLEFLOW_")}
    env.update(info.env())
    env.update(
        {
            "CANDLEFLOW_DATABASE_URL": database_url,
            "CANDLEFLOW_APP_ID": app_id,
            "CANDLEFLOW_TICKS_TOPIC": f"bench.memory.ticks.{tag}",
            "CANDLEFLOW_DEAD_TOPIC": f"bench.memory.dead.{tag}",
            "CANDLEFLOW_UPDATES_TOPIC": f"bench.memory.updates.{tag}",
            "CANDLEFLOW_TICKS_PARTITIONS": "4",
            "CANDLEFLOW_WEB_HOST": "127.0.0.1",
            "CANDLEFLOW_WEB_PORT": str(free_port()),
        }
    )
    warm_at = min(120.0, minutes * 60 / 5)
    with run_logs("candleflow-bench-memory-") as logs:
        worker = Child([candleflow_executable(), "worker", "-l", "warn"], env, logs / "worker.log")
        children = [worker]
        try:
            feed = Child(
                [candleflow_executable(), "ingest", "synthetic", "--symbols", SYMBOLS, "--rate", str(rate)],
                env, logs / "feed.log",
            )  # fmt: skip
            children.append(feed)
            started = time.monotonic()
            samples: list[tuple[float, int]] = []
            while (elapsed := time.monotonic() - started) < minutes * 60:
                await asyncio.sleep(SAMPLE_S)
                for child in children:
                    if not child.alive:
                        raise RuntimeError(f"{child.log_path.stem} exited; log in {child.log_path}")
                samples.append((elapsed, worker.rss_bytes()))
            absorbed = await ledger_progress(database_url, app_id)
            warm = next(rss for t, rss in samples if t >= warm_at)
            late = samples[-1][1]
            return [
                Figure(
                    "memory",
                    f"worker RSS after {minutes:g} min, MiB",
                    late / 2**20,
                    "MiB",
                    f"RSS after {warm_at / 60:g} min",
                    warm / 2**20,
                    "<= 1.1x",
                    [late / 2**20],
                    [warm / 2**20],
                    higher_is_better=False,
                    note=f"{rate} ticks/s, 100 symbols; {absorbed / (minutes * 60):,.0f} ticks/s absorbed",
                )
            ]
        finally:
            for child in reversed(children):
                await asyncio.to_thread(child.stop)
