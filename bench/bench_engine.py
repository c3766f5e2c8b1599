"""Engine benchmark: ticks/s from `ticks.raw` to committed bars for one and two workers,
beside a bare aiokafka consumer reading the same topic and a naive engine that writes
one row per tick (the seed design), all in the same run on the same stack.

    python -m bench.run_all --only engine
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.common import Figure, median
from candleflow.stack import StackInfo
from candleflow.stack.ports import free_port
from candleflow.store.migrate import migrate
from candleflow.ticks import parse_tick

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


async def publish(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
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


def _worker_env(info: StackInfo, database_url: str, topic: str, app_id: str, port: int, reader: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(info.env())
    env.update(
        {
            "CANDLEFLOW_DATABASE_URL": database_url,
            "CANDLEFLOW_TICKS_TOPIC": topic,
            "CANDLEFLOW_DEAD_TOPIC": topic + ".dead",
            "CANDLEFLOW_UPDATES_TOPIC": topic + ".updates",
            "CANDLEFLOW_APP_ID": app_id,
            "CANDLEFLOW_TICKS_PARTITIONS": str(PARTITIONS),
            "CANDLEFLOW_WEB_PORT": str(port),
            "CANDLEFLOW_FUTURE_TOLERANCE": "1000000000",
            "CANDLEFLOW_ENGINE_READER": reader,
        }
    )
    return env


async def engine_run(info: StackInfo, topic: str, expected: int, workers: int, reader: str) -> float:
    """Seconds from the first committed batch until every tick is absorbed (start-up and
    group join excluded: they are paid once per worker, not per tick)."""
    database_url = await fresh_database(info)
    app_id = f"bench-{uuid.uuid4().hex[:8]}"
    logs = Path(tempfile.mkdtemp(prefix="candleflow-bench-"))
    executable = str(Path(sys.executable).with_name("candleflow"))
    processes = []
    for n in range(workers):
        env = _worker_env(info, database_url, topic, app_id, free_port(), reader)
        with (logs / f"worker{n}.log").open("wb") as log:
            processes.append(
                await asyncio.create_subprocess_exec(
                    executable, "worker", "-l", "warn", env=env, stdout=log, stderr=subprocess.STDOUT
                )
            )
    try:
        first: tuple[float, int] | None = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done = await ledger_progress(database_url, app_id)
            now = time.perf_counter()
            if first is None and done > 0:
                first = (now, done)
            if done >= expected and first is not None:
                return (now - first[0]) * expected / max(1, expected - first[1])
            await asyncio.sleep(0.05)
        raise TimeoutError(f"engine did not absorb {expected} ticks; logs in {logs}")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            await asyncio.wait_for(process.wait(), 30)


async def run(info: StackInfo, ticks: int = 200_000, repeats: int = 3) -> list[Figure]:
    topic = f"bench.ticks.{uuid.uuid4().hex[:8]}"
    records = tick_records(ticks)
    await publish(info.kafka_bootstrap, topic, records)
    bare = [ticks / await bare_consumer(info.kafka_bootstrap, topic, ticks) for _ in range(repeats)]
    agent = [ticks / await engine_run(info, topic, ticks, 1, "agent") for _ in range(repeats)]
    bulk = [ticks / await engine_run(info, topic, ticks, 1, "bulk") for _ in range(repeats)]
    two = [ticks / await engine_run(info, topic, ticks, 2, "bulk") for _ in range(repeats)]
    naive_ticks = min(ticks, 20_000)
    naive = [naive_ticks / await naive_engine(info.kafka_bootstrap, topic, await fresh_database(info), naive_ticks)]
    target = ">= 50,000/s and >= 0.3x"
    return [
        Figure("live engine (agent)", "ticks/s, 1 worker", median(agent), "ticks/s", "bare aiokafka consumer",
               median(bare), target, agent, bare),
        Figure("live engine (bulk)", "ticks/s, 1 worker", median(bulk), "ticks/s", "bare aiokafka consumer",
               median(bare), target, bulk, bare),
        Figure("live engine, 2 workers (bulk)", "ticks/s", median(two), "ticks/s", "1 worker (bulk)", median(bulk),
               ">= 1.7x", two, bulk),
        Figure("naive comparison", "engine (bulk) ticks/s", median(bulk), "ticks/s", "one INSERT per tick",
               median(naive), "report the speed-up", bulk, naive),
    ]  # fmt: skip


if __name__ == "__main__":
    raise SystemExit("run it through the suite: python -m bench.run_all --only engine")
