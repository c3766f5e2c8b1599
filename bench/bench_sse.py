"""SSE tick-to-client latency with many clients.

    eval "$(candleflow stack up)"; python bench/bench_sse.py [--clients 1000] [--ticks 200]

Starts a `candleflow worker` (bar engine + SSE hub) on a fresh database and topics,
connects `clients` EventSource-style readers to `/udf/stream` (resolution 1S), then
publishes ticks to `ticks.raw` at `rate` per second, each with a unique price. Every
`bar` event whose close is such a price is matched with the moment its tick was sent:
latency = event received - tick sent (engine batch, database commit, bars.updates,
hub fan-out, HTTP). Updates coalesce per bar, so a client may skip intermediate
prices; only received ones count. `run(stack_info)` returns the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the clone, for `bench.*`
from bench.bench_history import EnvStack, StackLike, create_database, drop_database, percentiles, worker

SYMBOL = "Bench:SSE/USD"


async def create_topics(bootstrap: str, topics: dict[str, int]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, n, 1) for name, n in topics.items()])
    finally:
        await admin.close()


async def client(
    session: aiohttp.ClientSession, url: str, sent: dict[float, float], latencies: list[float], ready: asyncio.Event
) -> None:
    async with session.get(f"{url}/udf/stream", params={"symbol": SYMBOL, "resolution": "1S"}) as response:
        response.raise_for_status()
        ready.set()
        async for raw in response.content:
            if raw.startswith(b"data: {"):
                close = orjson.loads(raw[6:])["close"]
                at = sent.get(close)
                if at is not None:
                    latencies.append(time.perf_counter() - at)


async def measure(url: str, bootstrap: str, ticks_topic: str, clients: int, ticks: int, rate: float) -> dict[str, Any]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    sent: dict[float, float] = {}
    latencies: list[float] = []

    async def tick(price: float) -> None:
        record = {"symbol": SYMBOL, "ts": int(time.time() * 1000), "price": price, "qty": 0.1}
        sent[price] = time.perf_counter()
        await producer.send_and_wait(ticks_topic, orjson.dumps(record), key=SYMBOL.encode())

    try:
        await tick(100.0)  # the symbol must exist before anyone subscribes
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            deadline = time.monotonic() + 30
            while True:
                async with session.get(f"{url}/udf/symbols", params={"symbol": SYMBOL}) as response:
                    if response.status == 200:
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError("the engine did not store the first tick in 30 s")
                await asyncio.sleep(0.2)
            events = [asyncio.Event() for _ in range(clients)]
            tasks = [asyncio.create_task(client(session, url, sent, latencies, e)) for e in events]
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 60)
            await asyncio.sleep(1.0)
            latencies.clear()
            for i in range(1, ticks + 1):
                await tick(round(100.0 + i / 100, 2))
                await asyncio.sleep(1 / rate)
            await asyncio.sleep(3.0)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                    await task
    finally:
        await producer.stop()
    if not latencies:
        raise RuntimeError("no event reached a client")
    return {"clients": clients, "ticks": ticks, "rate_per_s": rate, "events": len(latencies), **percentiles(latencies)}


def run(stack_info: StackLike, *, clients: int = 1000, ticks: int = 200, rate: float = 20.0) -> dict[str, Any]:
    """Benchmark against a running stack; returns latency figures (milliseconds)."""
    tag = uuid.uuid4().hex[:8]
    topics = {"ticks": f"bench.sse.ticks.{tag}", "dead": f"bench.sse.dead.{tag}", "updates": f"bench.sse.updates.{tag}"}
    db_url = asyncio.run(create_database(stack_info.database_url, "bench_sse"))
    asyncio.run(
        create_topics(stack_info.kafka_bootstrap, {topics["ticks"]: 2, topics["dead"]: 1, topics["updates"]: 2})
    )
    env = {
        **stack_info.env(),
        "CANDLEFLOW_DATABASE_URL": db_url,
        "CANDLEFLOW_APP_ID": f"bench-sse-{tag}",
        "CANDLEFLOW_TICKS_TOPIC": topics["ticks"],
        "CANDLEFLOW_DEAD_TOPIC": topics["dead"],
        "CANDLEFLOW_UPDATES_TOPIC": topics["updates"],
        "CANDLEFLOW_SSE_MAX_CLIENTS": str(max(5000, clients + 10)),
    }
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-sse-{tag}.log"
    try:
        with worker(env, log_path) as url:
            return asyncio.run(measure(url, stack_info.kafka_bootstrap, topics["ticks"], clients, ticks, rate))
    finally:
        asyncio.run(drop_database(stack_info.database_url, db_url))


def main() -> None:
    parser = argparse.ArgumentParser(
        description="candleflow SSE latency benchmark (uses CANDLEFLOW_* of a running stack)"
    )
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="ticks per second")
    args = parser.parse_args()
    print(json.dumps(run(EnvStack(), clients=args.clients, ticks=args.ticks, rate=args.rate), indent=2))


if __name__ == "__main__":
    main()
