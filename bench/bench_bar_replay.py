"""Bar Replay under load: does the live path keep its pace while 50 replays run at 60x?

    python -m bench.run_all --only bar_replay

One `candleflow worker` (engine + web) on a fresh database absorbs an hour of stored
ticks of 10 symbols. Then, alternately without and with 50 SSE clients replaying that
hour at 60x (`/udf/replay?…&speed=60`, five per symbol, held by `bench/sse_readers.py`
in a process of its own), the same worker is measured twice, with the harnesses of the
other scenarios:

* live engine throughput: a burst of ticks of 100 other symbols (`bench_engine`'s
  records), ticks/s from the moment it is sent to the ledger reaching its end;
* live latency: tick -> SSE client p50/p99 of one client at 500 ticks/s
  (`bench_sse.scenario`).

Each figure is the median over the repeats, beside the same worker's figure without
replays in the same run; the note says how many replay events the clients received per
second (proof the replays ran) and whether any caught up early.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from urllib.parse import urlencode

import orjson
import psutil
from aiokafka import AIOKafkaProducer

from bench import bench_sse
from bench.bench_engine import fresh_database, ledger_progress, publish, tick_records
from bench.bench_history import drop_database, worker
from bench.common import Figure, median
from candleflow.stack import StackInfo

REPO = Path(__file__).resolve().parents[1]
SYMBOLS = [f"Replay:R{i:02d}/USD" for i in range(10)]
REPLAYS = 50
SPEED = 60
#: Ticks per second of event time per symbol in the stored hour.
STORED_RATE = 3
HOUR_MS = 3_600_000
LATENCY = bench_sse.Scenario("1 client", 1, 500.0, "")


def stored_hour(end_ms: int) -> list[tuple[bytes, bytes]]:
    """An hour of ticks of `SYMBOLS` ending at `end_ms`, `STORED_RATE` per second each."""
    records = []
    step = 1000 // STORED_RATE
    for n, ts in enumerate(range(end_ms - HOUR_MS, end_ms, step)):
        for i, symbol in enumerate(SYMBOLS):
            price = round(100 + i + ((n * 7919 + i) % 500) * 0.01, 2)
            record = {"symbol": symbol, "ts": ts + i, "price": price, "qty": 0.3}
            records.append((symbol.encode(), orjson.dumps(record)))
    return records


async def absorbed(database_url: str, app_id: str, total: int, within: float = 600) -> None:
    deadline = time.monotonic() + within
    while await ledger_progress(database_url, app_id) < total:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the engine did not absorb {total} ticks in {within:.0f} s")
        await asyncio.sleep(0.1)


async def engine_rate(bootstrap: str, topic: str, database_url: str, app_id: str, burst: int) -> float:
    """Ticks/s the worker absorbs a burst at: from the moment it is sent (as fast as the
    producer goes, the same in both phases) until the ledger holds all of it."""
    records = tick_records(burst)
    before = await ledger_progress(database_url, app_id)
    started = time.perf_counter()
    sending = asyncio.create_task(publish(bootstrap, topic, records, create=False))
    deadline = time.monotonic() + 600
    while await ledger_progress(database_url, app_id) < before + burst:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the engine did not absorb the burst of {burst} ticks")
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    await sending
    return burst / elapsed


@contextlib.asynccontextmanager
async def replays(url: str, start_s: int) -> AsyncIterator[list[int]]:
    """`REPLAYS` SSE clients replaying from `start_s` at `SPEED`; yields, at the end, the
    events each one received (filled in when the block ends)."""
    paths = [
        "/udf/replay?" + urlencode({"symbol": symbol, "resolution": "1", "from": start_s, "speed": SPEED})
        for symbol in SYMBOLS
    ]
    readers = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.sse_readers", "--url", url, *[a for p in paths for a in ("--path", p)],
        "--clients", str(REPLAYS), "--sample", "0",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=REPO, limit=1 << 26,
    )  # fmt: skip
    assert readers.stdin is not None and readers.stdout is not None
    counts: list[int] = []
    try:
        line = await asyncio.wait_for(readers.stdout.readline(), 120)
        if line.strip() != b"ready":
            raise RuntimeError(f"the replay clients did not connect: {line!r}")
        await asyncio.sleep(2.0)  # every replay past its start-up and forming bars
        yield counts
        readers.stdin.write(b"stop\n")
        await readers.stdin.drain()
        counts.extend(orjson.loads(await asyncio.wait_for(readers.stdout.readline(), 60))["counts"])
    finally:
        with contextlib.suppress(ProcessLookupError):
            readers.kill()
        await readers.wait()


def worker_process(url: str) -> psutil.Process | None:
    """The worker listening on `url`'s port (its CPU time is reported)."""
    port = int(url.rsplit(":", 1)[1])
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return psutil.Process(conn.pid)
    return None


def cpu_seconds(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return float(times.user + times.system)


async def measure(
    info: StackInfo, url: str, topic: str, database_url: str, app_id: str, burst: int, seconds: float, repeats: int
) -> list[Figure]:
    end_ms = int(time.time() * 1000) - 120_000
    stored = stored_hour(end_ms)
    await publish(info.kafka_bootstrap, topic, stored, create=False)
    await absorbed(database_url, app_id, len(stored))
    producer = AIOKafkaProducer(bootstrap_servers=info.kafka_bootstrap, linger_ms=0)
    await producer.start()
    rates: dict[bool, list[float]] = {False: [], True: []}
    p50: dict[bool, list[float]] = {False: [], True: []}
    p99: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    events_per_s: list[float] = []
    process = worker_process(url)
    try:
        await bench_sse.first_tick(url, producer, topic)
        for n in range(repeats):
            for loaded in (False, True):
                async with contextlib.AsyncExitStack() as stack:
                    counts = await stack.enter_async_context(replays(url, (end_ms - HOUR_MS) // 1000)) if loaded else []
                    began, cpu_before = time.monotonic(), cpu_seconds(process)
                    base = 1000.0 * (2 * n + loaded + 1)
                    latency = await bench_sse.scenario(url, producer, topic, LATENCY, seconds, base)
                    rates[loaded].append(await engine_rate(info.kafka_bootstrap, topic, database_url, app_id, burst))
                    p50[loaded].append(latency["p50_ms"])
                    p99[loaded].append(latency["p99_ms"])
                    held = time.monotonic() - began
                    cpu[loaded].append((cpu_seconds(process) - cpu_before) / held)
                if loaded:
                    events_per_s.append(sum(counts) / held)
    finally:
        await producer.stop()
    note = (
        f"{REPLAYS} replays at {SPEED}x of {len(SYMBOLS)} symbols' stored hour; their clients received "
        f"{median(events_per_s):,.0f} bar events/s; p50 {median(p50[True])} ms vs {median(p50[False])} ms; "
        f"worker CPU {median(cpu[True]):.2f} vs {median(cpu[False]):.2f} s/s"
    )
    return [
        Figure("bar replay", f"live engine ticks/s with {REPLAYS} replays at {SPEED}x", median(rates[True]), "ticks/s",
               "same worker without replays", median(rates[False]), ">= 0.8x", rates[True], rates[False], note=note),
        Figure("bar replay", f"tick -> SSE client p99 with {REPLAYS} replays at {SPEED}x", median(p99[True]), "ms",
               "same worker without replays", median(p99[False]), "<= 1.5x", p99[True], p99[False],
               higher_is_better=False, note=note),
    ]  # fmt: skip


async def _setup(info: StackInfo, topic: str) -> str:
    await publish(info.kafka_bootstrap, topic, [], create=True)
    await bench_sse.create_topics(info.kafka_bootstrap, {f"{topic}.updates": 2, f"{topic}.dead": 1})
    return await fresh_database(info)


def run(info: StackInfo, *, burst: int = 200_000, seconds: float = 8.0, repeats: int = 3) -> list[Figure]:
    tag = uuid.uuid4().hex[:8]
    topic = f"bench.bar_replay.{tag}"
    app_id = f"bench-bar-replay-{tag}"
    database_url = asyncio.run(_setup(info, topic))
    env = {
        **info.env(),
        "CANDLEFLOW_DATABASE_URL": database_url,
        "CANDLEFLOW_APP_ID": app_id,
        "CANDLEFLOW_TICKS_TOPIC": topic,
        "CANDLEFLOW_DEAD_TOPIC": f"{topic}.dead",
        "CANDLEFLOW_UPDATES_TOPIC": f"{topic}.updates",
        "CANDLEFLOW_FUTURE_TOLERANCE": "1000000000",
        "CANDLEFLOW_REPLAY_MAX": str(REPLAYS + 10),
    }
    try:
        with worker(env, Path("/tmp") / f"bench-bar-replay-{tag}.log") as url:
            return asyncio.run(measure(info, url, topic, database_url, app_id, burst, seconds, repeats))
    finally:
        asyncio.run(drop_database(info.database_url, database_url))


def scenario(info: StackInfo, quick: bool) -> Sequence[Figure]:
    return run(info, burst=50_000 if quick else 200_000, seconds=4.0 if quick else 8.0, repeats=1 if quick else 3)
