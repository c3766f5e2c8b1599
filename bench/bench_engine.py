"""Engine benchmark: ticks/s from `ticks.raw` to committed bars for one and two default
workers, and their CPU seconds per 100,000 ticks, beside a bare aiokafka consumer reading
the same topic and a naive engine that writes one row per tick (the seed design), all in
the same run on the same stack.

    python -m bench.run_all --only engine
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.common import Child, Figure, candleflow_executable, median, run_logs
from candleflow.domain.ticks import parse_tick
from candleflow.stack import StackInfo
from candleflow.stack.ports import free_port
from candleflow.store.migrate import migrate

PARTITIONS = 4
SYMBOLS = [f"Bench:S{i:03d}/USD" for i in range(100)]
#: Event-time rate of the generated feed: the live target, so the batch shapes (ticks
#: per bar) are what a worker keeping up with 50,000 ticks/s sees.
FEED_RATE = 50_000


def tick_records(count: int, rate: int = FEED_RATE) -> list[tuple[bytes, bytes]]:
    """`count` ticks of 100 symbols ending two minutes ago, `rate` per second of event time."""
    end = int(time.time() * 1000) - 120_000
    start = end - count * 1000 // rate
    records = []
    for i in range(count):
        symbol = SYMBOLS[(i * 7919) % len(SYMBOLS)]
        ts = start + i * 1000 // rate
        price = round(100 + (i % 997) * 0.01, 2)
        records.append((symbol.encode(), orjson.dumps({"symbol": symbol, "ts": ts, "price": price, "qty": 0.5})))
    return records


async def publish(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], *, create: bool = True) -> None:
    """Send (key, value) `records` to `topic`, created first with `PARTITIONS` unless `create` is false."""
    if create:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
        finally:
            await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1_048_576)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=v, key=k) for k, v in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def from_beginning(bootstrap: str, topic: str, **options: Any) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer without a group, assigned every partition of `topic` at its first offset."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **options)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        yield consumer
    finally:
        await consumer.stop()


async def bare_consumer(bootstrap: str, topic: str, expected: int) -> float:
    """Seconds for a bare aiokafka consumer to read (and JSON-decode) the whole topic."""
    async with from_beginning(bootstrap, topic, max_partition_fetch_bytes=4_194_304) as consumer:
        seen = 0
        started = time.perf_counter()
        while seen < expected:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for messages in batch.values():
                for message in messages:
                    orjson.loads(message.value)
                seen += len(messages)
        return time.perf_counter() - started


NAIVE_UPSERT = """
INSERT INTO naive_bars VALUES ($1, $2, $3, $3, $3, $3, $4) ON CONFLICT (symbol, bucket) DO UPDATE
SET high = greatest(naive_bars.high, excluded.high), low = least(naive_bars.low, excluded.low),
    close = excluded.close, volume = naive_bars.volume + excluded.volume
"""


async def naive_engine(bootstrap: str, topic: str, database_url: str, expected: int) -> float:
    """The seed design: every tick is one INSERT ... ON CONFLICT into the minute bars."""
    conn = await asyncpg.connect(database_url)
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS naive_bars (symbol text, bucket bigint, open float8, high float8,"
        " low float8, close float8, volume float8, PRIMARY KEY (symbol, bucket))"
    )
    try:
        async with from_beginning(bootstrap, topic) as consumer:
            seen = 0
            started = time.perf_counter()
            while seen < expected:
                batch = await consumer.getmany(timeout_ms=500, max_records=1000)
                for message in (m for messages in batch.values() for m in messages):
                    tick = parse_tick(message.value, future_tolerance_s=1e9)
                    await conn.execute(NAIVE_UPSERT, tick.symbol, tick.ts // 60_000 * 60_000, tick.price, tick.qty)
                    seen += 1
                    if seen >= expected:
                        break
            return time.perf_counter() - started
    finally:
        await conn.close()


async def fresh_database(info: StackInfo) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(info.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"{info.database_url.rsplit('/', 1)[0]}/{name}"
    await migrate(url)
    return url


async def ledger_progress(database_url: str, app_id: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(
            await conn.fetchval("SELECT coalesce(sum(next_offset), 0) FROM source_offsets WHERE consumer = $1", app_id)
        )
    finally:
        await conn.close()


def _worker_env(info: StackInfo, database_url: str, topic: str, app_id: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDLEFLOW_")}
    env.update(info.env())
    env.update(
        {
            "CANDLEFLOW_DATABASE_URL": database_url,
            "CANDLEFLOW_TICKS_TOPIC": topic,
            "CANDLEFLOW_DEAD_TOPIC": topic + ".dead",
            "CANDLEFLOW_UPDATES_TOPIC": topic + ".updates",
            "CANDLEFLOW_APP_ID": app_id,
            "CANDLEFLOW_TICKS_PARTITIONS": str(PARTITIONS),
            "CANDLEFLOW_WEB_HOST": "127.0.0.1",
            "CANDLEFLOW_WEB_PORT": str(port),
            "CANDLEFLOW_FUTURE_TOLERANCE": "1000000000",
        }
    )
    return env


@dataclass
class EngineRun:
    """One engine run: seconds for the ticks after the first committed batch, and the
    workers' CPU seconds over the same span."""

    seconds: float
    cpu_seconds: float
    ticks: int

    @property
    def rate(self) -> float:
        return self.ticks / self.seconds

    @property
    def cpu_per_100k(self) -> float:
        return self.cpu_seconds * 100_000 / self.ticks


async def engine_run(info: StackInfo, topic: str, expected: int, workers: int) -> EngineRun:
    """The default worker (`candleflow worker`, no reader settings) absorbing the topic.

    Timing starts at the first committed batch (start-up and group join are paid once
    per worker, not per tick). Every worker runs in its own process group and is
    stopped (or killed) however the run ends, also when one of them crashed.
    """
    database_url = await fresh_database(info)
    app_id = f"bench-{uuid.uuid4().hex[:8]}"
    children: list[Child] = []
    with run_logs("candleflow-bench-") as logs:
        try:
            for n in range(workers):
                env = _worker_env(info, database_url, topic, app_id, free_port())
                children.append(Child([candleflow_executable(), "worker", "-l", "warn"], env, logs / f"worker{n}.log"))
            first: tuple[float, int, float] | None = None
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                dead = [child.log_path.name for child in children if not child.alive]
                if dead:
                    raise RuntimeError(f"worker exited during the run: {', '.join(dead)} in {logs}")
                done = await ledger_progress(database_url, app_id)
                now = time.perf_counter()
                if first is None and done > 0:
                    first = (now, done, sum(child.cpu_seconds() for child in children))
                if done >= expected and first is not None:
                    cpu = sum(child.cpu_seconds() for child in children) - first[2]
                    return EngineRun(now - first[0], cpu, expected - first[1])
                await asyncio.sleep(0.05)
            raise TimeoutError(f"engine did not absorb {expected} ticks; logs in {logs}")
        finally:
            for child in children:
                await asyncio.to_thread(child.stop)


async def run(info: StackInfo, ticks: int = 1_000_000, repeats: int = 3) -> list[Figure]:
    topic = f"bench.ticks.{uuid.uuid4().hex[:8]}"
    records = tick_records(ticks)
    await publish(info.kafka_bootstrap, topic, records)
    bare: list[float] = []
    bare_cpu: list[float] = []
    for _ in range(repeats):
        cpu_before = time.process_time()
        bare.append(ticks / await bare_consumer(info.kafka_bootstrap, topic, ticks))
        bare_cpu.append((time.process_time() - cpu_before) * 100_000 / ticks)
    one = [await engine_run(info, topic, ticks, 1) for _ in range(repeats)]
    two = [await engine_run(info, topic, ticks, 2) for _ in range(repeats)]
    naive_ticks = min(ticks, 20_000)
    naive = [naive_ticks / await naive_engine(info.kafka_bootstrap, topic, await fresh_database(info), naive_ticks)]
    rate1, rate2 = [r.rate for r in one], [r.rate for r in two]
    cpu1, cpu2 = [r.cpu_per_100k for r in one], [r.cpu_per_100k for r in two]
    return [
        Figure("live engine", "ticks/s, 1 worker", median(rate1), "ticks/s", "bare aiokafka consumer", median(bare),
               ">= 50,000/s and >= 0.3x", rate1, bare),
        Figure("live engine, 2 workers", "ticks/s", median(rate2), "ticks/s", "1 worker", median(rate1),
               "report (>= 1.7x needs 2 spare cores)", rate2, rate1),
        Figure("engine CPU, 1 worker", "worker CPU s per 100,000 ticks", median(cpu1), "s",
               "bare aiokafka consumer (CPU s per 100,000)", median(bare_cpu), "report", cpu1, bare_cpu,
               higher_is_better=False),
        Figure("engine CPU, 2 workers", "CPU s of both workers per 100,000 ticks", median(cpu2), "s",
               "1 worker", median(cpu1), "report (~1x: scaling costs no CPU)", cpu2, cpu1, higher_is_better=False),
        Figure("naive comparison", "engine ticks/s", median(rate1), "ticks/s", "one INSERT per tick",
               median(naive), "report the speed-up", rate1, naive),
    ]  # fmt: skip


if __name__ == "__main__":
    raise SystemExit("run it through the suite: python -m bench.run_all --only engine")
