"""`candleflow ingest replay` against the real broker, read back with an independent consumer.

The big test replays 1,000,000 NDJSON lines (about 0.1 % malformed) with `--speed max`
through the console script and checks that every line is either in `ticks.raw`
(exactly once, keyed by its symbol, each symbol in one partition) or in `ticks.dead`
with a reason. The small one checks `--speed` pacing by the records' log timestamps.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from aiokafka import ConsumerRecord

from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig
from candleflow.stack import StackInfo
from tests.harness import Names, consume_all
from tests.harness.kafka import partitions_of
from tests.harness.waiting import eventually

pytestmark = pytest.mark.integration

SYMBOLS = (
    "Coinbase:BTC/USD",
    "Coinbase:ETH/USD",
    "Kraken:SOL/USD",
    "Binance:DOGE/USDT",
    "Kraken:XRP/EUR",
    "CCCAGG:ETH/BTC",
)
MALFORMED = (
    "{not json",
    "",
    '{"symbol": "Coinbase:BTC/USD", "ts": "%d", "price": 1.5, "qty": 1}',
    '{"symbol": "BTC-USD", "ts": %d, "price": 1.5, "qty": 1}',
    '{"symbol": "Coinbase:BTC/USD", "ts": %d, "price": -3, "qty": 1}',
    '{"symbol": "Coinbase:BTC/USD", "ts": %d, "price": "NaN", "qty": 1}',
    '{"symbol": "Coinbase:BTC/USD", "ts": %d, "price": 1.5, "qty": -0.1}',
    '{"symbol": "Coinbase:BTC/USD", "ts": 99999999999999, "price": 1.5, "qty": 1}',
    "[1,2,3]",
)


def candleflow() -> str:
    return str(Path(sys.executable).parent / "candleflow")


def write_file(path: Path, lines: int, bad_every: int) -> tuple[int, list[str]]:
    """Write `lines` lines; every `bad_every`-th is malformed. Returns (valid, bad lines)."""
    start = int(time.time() * 1000) - 2 * 86_400_000
    bad: list[str] = []
    chunk: list[str] = []
    n_symbols = len(SYMBOLS)
    with path.open("w") as out:
        for i in range(lines):
            if i % bad_every == bad_every - 1:
                line = MALFORMED[len(bad) % len(MALFORMED)]
                line = line % (start + i) if "%d" in line else line
                bad.append(line)
                chunk.append(line)
            else:
                symbol = SYMBOLS[i % n_symbols]
                chunk.append(
                    f'{{"symbol":"{symbol}","ts":{start + i * 100},"price":{100 + (i % 997) / 100},'
                    f'"qty":{(i % 89 + 1) / 1000},"side":"{"buy" if i & 1 else "sell"}","id":"{i}"}}'
                )
            if len(chunk) >= 50_000:
                out.write("\n".join(chunk) + "\n")
                chunk.clear()
        if chunk:
            out.write("\n".join(chunk) + "\n")
    return lines - len(bad), bad


def replay(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [candleflow(), "ingest", "replay", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


async def stream_topic(
    bootstrap: str, topic: str, expect: int, on_record: Callable[[ConsumerRecord[bytes, bytes]], None], within: float
) -> int:
    """Feed every record of `topic` to `on_record` without keeping them; stops at `expect`."""
    partitions = await partitions_of(bootstrap, topic, within)
    consumer = clients.assigned_reader(KafkaConfig(bootstrap), "test", max_partition_fetch_bytes=4 << 20)
    await consumer.start()
    seen = 0

    async def read_on() -> bool:
        nonlocal seen
        batch = await consumer.getmany(timeout_ms=500, max_records=50_000)
        for records in batch.values():
            for record in records:
                on_record(record)
            seen += len(records)
        return seen >= expect

    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        await eventually(read_on, within, interval=0, what=f"{topic}: {expect} records read")
        # Anything beyond `expect` would be a duplicate: count it too.
        extra = await consumer.getmany(timeout_ms=1000)
        seen += sum(len(r) for r in extra.values())
    finally:
        await consumer.stop()
    return seen


async def test_million_line_replay_reaches_the_broker_exactly(stack: StackInfo, names: Names, tmp_path: Path) -> None:
    path = tmp_path / "million.ndjson"
    valid, bad = write_file(path, 1_000_000, bad_every=997)
    env = names.env(stack, stack.database_url, ticks_partitions=6)

    started = time.monotonic()
    result = replay(env, str(path), "--speed", "max")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"1,000,000 lines, {valid:,} published to {names.ticks_topic}, {len(bad):,} dead-lettered" in result.stdout
    print(f"replayed 1,000,000 lines in {elapsed:.1f} s: {result.stdout.strip()}")

    seen_ids = bytearray(1_000_000)
    partition_of: dict[str, set[int]] = {}
    problems: list[str] = []

    def check(record: ConsumerRecord[bytes, bytes]) -> None:
        tick = orjson.loads(record.value)
        if record.key != tick["symbol"].encode():
            problems.append(f"key {record.key!r} for {tick['symbol']}")
        partition_of.setdefault(tick["symbol"], set()).add(record.partition)
        seen_ids[int(tick["id"])] += 1

    read = await stream_topic(stack.kafka_bootstrap, names.ticks_topic, valid, check, within=180)
    assert read == valid
    assert problems == []
    assert all(len(parts) == 1 for parts in partition_of.values()), partition_of
    assert set(partition_of) == set(SYMBOLS)
    assert seen_ids.count(1) == valid  # every valid line exactly once
    assert seen_ids.count(2) == 0

    dead = await consume_all(stack.kafka_bootstrap, names.dead_topic, timeout=60, expect=len(bad))
    assert len(dead) == len(bad)
    letters = [orjson.loads(value) for _, value, _, _ in dead]
    assert all(letter["reason"] and letter["source"] == "replay" for letter in letters)
    assert sorted(letter["raw"] for letter in letters) == sorted(bad)


async def test_speed_keeps_the_original_pacing_scaled(stack: StackInfo, names: Names, tmp_path: Path) -> None:
    path = tmp_path / "paced.ndjson"
    start = int(time.time() * 1000) - 60_000
    # 3 s of tick time, 20 ticks a second; at --speed 2 it takes 1.5 s.
    lines = [
        orjson.dumps({"symbol": SYMBOLS[i % 2], "ts": start + i * 50, "price": 10.0 + i, "qty": 1.0, "id": str(i)})
        for i in range(61)
    ]
    path.write_bytes(b"\n".join(lines) + b"\nnot json\n")
    env = names.env(stack, stack.database_url, ticks_partitions=2)
    result = replay(env, str(path), "--speed", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "62 lines, 61 published" in result.stdout

    stamps: list[int] = []
    await stream_topic(stack.kafka_bootstrap, names.ticks_topic, 61, lambda r: stamps.append(r.timestamp), within=60)
    spread = (max(stamps) - min(stamps)) / 1000
    assert 1.3 <= spread <= 2.5, spread
    (dead,) = await consume_all(stack.kafka_bootstrap, names.dead_topic, timeout=30, expect=1)
    assert orjson.loads(dead[1])["reason"].startswith("not JSON")


async def test_gzipped_csv_and_bad_exit_status(stack: StackInfo, names: Names, tmp_path: Path) -> None:
    start = int(time.time() * 1000) - 60_000
    path = tmp_path / "ticks.csv.gz"
    rows = ["symbol,ts,price,qty,side,id"] + [f"Kraken:SOL/USD,{start + i},240.{i:03d},1.5,buy,{i}" for i in range(100)]
    path.write_bytes(gzip.compress(("\n".join([*rows, "Kraken:SOL/USD,later,1,1,,"]) + "\n").encode()))
    env = names.env(stack, stack.database_url, ticks_partitions=3)
    result = replay(env, str(path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "101 lines, 100 published" in result.stdout
    records = await consume_all(stack.kafka_bootstrap, names.ticks_topic, timeout=30, expect=100)
    assert {key for key, _, _, _ in records} == {b"Kraken:SOL/USD"}
    assert len({partition for _, _, partition, _ in records}) == 1

    missing = replay(env, str(tmp_path / "missing.ndjson"))
    assert missing.returncode != 0
    assert "does not exist" in missing.stderr
