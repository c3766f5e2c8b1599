"""Ingest benchmark: `replay --speed max` against a bare aiokafka producer, same file, same run.

    python bench/bench_ingest.py --bootstrap 127.0.0.1:9092 [--lines 500000]

The replay side is candleflow's own path (read a line, validate it into a `Tick`,
publish through `TickPublisher` keyed by symbol, dead-letter the malformed). The bare
side is the plainest aiokafka loop: `await producer.send(topic, line)` for every line,
no parsing, no key, futures awaited at the end. Both write to fresh topics with the
same partition count; the figure is lines per second until the broker acknowledged
the last record. `run(bootstrap)` returns the figures for `make bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.topics import Topic, ensure_topics
from candleflow.sources.publisher import TickPublisher
from candleflow.sources.replay import open_lines, replay_file

SYMBOLS = ("Coinbase:BTC/USD", "Coinbase:ETH/USD", "Kraken:SOL/USD", "Binance:DOGE/USDT", "Kraken:XRP/EUR")


def write_ticks(path: Path, lines: int, *, bad_every: int = 10_000, seed: int = 7) -> None:
    """An NDJSON file of `lines` ticks, one malformed line in every `bad_every`."""
    rng = random.Random(seed)
    start = int(time.time() * 1000) - lines - 3_600_000
    with path.open("w") as out:
        for i in range(lines):
            if bad_every and i % bad_every == bad_every - 1:
                out.write('{"symbol": "Coinbase:BTC/USD", "ts": "soon", "price": -1}\n')
                continue
            symbol = SYMBOLS[i % len(SYMBOLS)]
            price = round(100 + rng.random() * 50, 2)
            out.write(
                f'{{"symbol":"{symbol}","ts":{start + i},"price":{price},"qty":0.{rng.randrange(1, 10**6):06d},'
                f'"side":"{"buy" if i & 1 else "sell"}","id":"{i}"}}\n'
            )


async def _replay(bootstrap: str, path: Path, topic: str, dead: str, partitions: int) -> tuple[float, int]:
    publisher = TickPublisher(
        KafkaConfig(bootstrap), source="bench", ticks_topic=topic, dead_topic=dead, partitions=partitions
    )
    await publisher.start()
    try:
        started = time.perf_counter()
        report = await replay_file(path, publisher)
        counts = await publisher.flush()
        elapsed = time.perf_counter() - started
    finally:
        await publisher.close()
    if counts.published + counts.dead != report.lines:
        raise RuntimeError(f"replay lost records: {counts} for {report.lines} lines")
    return elapsed, report.lines


async def _bare(bootstrap: str, path: Path, topic: str) -> tuple[float, int]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=10, max_batch_size=512 * 1024)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = []
        with open_lines(path) as (stream, _):
            for line in stream:
                futures.append(await producer.send(topic, line.rstrip(b"\n")))
        await producer.flush()
        await asyncio.gather(*futures)
        elapsed = time.perf_counter() - started
    finally:
        await producer.stop()
    return elapsed, len(futures)


async def _run(bootstrap: str, lines: int, partitions: int, path: Path | None) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    topic, dead, bare = f"bench.ingest.{run_id}", f"bench.ingest.{run_id}.dead", f"bench.bare.{run_id}"
    await ensure_topics(KafkaConfig(bootstrap), [Topic(topic, partitions), Topic(dead, 1), Topic(bare, partitions)])
    with tempfile.TemporaryDirectory() as tmp:
        if path is None:
            path = Path(tmp) / "ticks.ndjson"
            write_ticks(path, lines)
        bare_s, bare_n = await _bare(bootstrap, path, bare)
        replay_s, replay_n = await _replay(bootstrap, path, topic, dead, partitions)
    replay_rate, bare_rate = replay_n / replay_s, bare_n / bare_s
    return {
        "lines": replay_n,
        "partitions": partitions,
        "replay_seconds": round(replay_s, 3),
        "replay_ticks_per_s": round(replay_rate),
        "bare_seconds": round(bare_s, 3),
        "bare_ticks_per_s": round(bare_rate),
        "ratio": round(replay_rate / bare_rate, 3),
    }


def run(bootstrap: str, *, lines: int = 500_000, partitions: int = 8, path: Path | None = None) -> dict[str, Any]:
    """Benchmark against the broker at `bootstrap`; returns the figures."""
    return asyncio.run(_run(bootstrap, lines, partitions, path))


def main() -> None:
    parser = argparse.ArgumentParser(description="candleflow ingest benchmark")
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap, host:port")
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--file", type=Path, default=None, help="replay this NDJSON file instead of a generated one")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = run(args.bootstrap, lines=args.lines, partitions=args.partitions, path=args.file)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"ingest benchmark: {figures['lines']:,} lines, {figures['partitions']} partitions", file=sys.stdout)
    print(f"  candleflow replay --speed max : {figures['replay_ticks_per_s']:>10,} ticks/s")
    print(f"  bare aiokafka producer        : {figures['bare_ticks_per_s']:>10,} lines/s")
    print(f"  ratio replay / bare           : {figures['ratio']:>10.2f}")


if __name__ == "__main__":
    main()
