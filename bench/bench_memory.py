"""Worker memory over a long synthetic run: RSS after the first minute beside RSS at the
end, while `candleflow ingest synthetic` feeds 100 symbols at a steady rate.

The feed runs in its own process so that the worker's RSS is the engine and web server
alone. `run(info)` returns one `Figure`: RSS at the end over RSS after one minute
(flat is <= 1.1).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

from bench.bench_engine import fresh_database
from bench.common import Figure
from candleflow.stack import StackInfo
from candleflow.stack.ports import free_port

SYMBOLS = ",".join(f"Mem:S{i:03d}/USD" for i in range(100))


async def run(info: StackInfo, rate: int = 5000, minutes: float = 3.0) -> list[Figure]:
    database_url = await fresh_database(info)
    tag = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        **info.env(),
        "CANDLEFLOW_DATABASE_URL": database_url,
        "CANDLEFLOW_APP_ID": f"bench-memory-{tag}",
        "CANDLEFLOW_TICKS_TOPIC": f"bench.memory.ticks.{tag}",
        "CANDLEFLOW_DEAD_TOPIC": f"bench.memory.dead.{tag}",
        "CANDLEFLOW_UPDATES_TOPIC": f"bench.memory.updates.{tag}",
        "CANDLEFLOW_TICKS_PARTITIONS": "4",
        "CANDLEFLOW_WEB_PORT": str(free_port()),
    }
    executable = str(Path(sys.executable).with_name("candleflow"))
    logs = Path(tempfile.mkdtemp(prefix="candleflow-bench-memory-"))
    with (logs / "worker.log").open("wb") as worker_log, (logs / "feed.log").open("wb") as feed_log:
        worker = await asyncio.create_subprocess_exec(
            executable, "worker", "-l", "warn", env=env, stdout=worker_log, stderr=worker_log
        )
        feed = await asyncio.create_subprocess_exec(
            executable, "ingest", "synthetic", "--symbols", SYMBOLS, "--rate", str(rate),
            env=env, stdout=feed_log, stderr=feed_log,
        )  # fmt: skip
    try:
        process = psutil.Process(worker.pid)
        started = time.monotonic()
        samples: list[tuple[float, int]] = []
        while time.monotonic() - started < minutes * 60:
            await asyncio.sleep(5)
            if worker.returncode is not None:
                raise RuntimeError(f"worker exited; log in {logs}")
            samples.append((time.monotonic() - started, process.memory_info().rss))
        early = next(rss for t, rss in samples if t >= 60)
        late = samples[-1][1]
        return [
            Figure(
                "memory",
                f"worker RSS after {minutes:g} min, MiB",
                late / 2**20,
                "MiB",
                "RSS after 1 min",
                early / 2**20,
                "flat (<= 1.1x)",
                [late / 2**20],
                [early / 2**20],
                higher_is_better=False,
                note=f"{rate} ticks/s, 100 symbols",
            )
        ]
    finally:
        for child in (feed, worker):
            if child.returncode is None:
                child.terminate()
                await asyncio.wait_for(child.wait(), 30)
