"""The publisher, the synthetic CLI and the live CryptoCompare CLI against the real broker."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import orjson
import pytest

from candleflow.core.metrics import TICKS_ACCEPTED, TICKS_REJECTED
from candleflow.domain.ticks import Tick
from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig
from candleflow.sources.publisher import TickPublisher
from candleflow.stack import StackInfo
from tests.fakes.cryptocompare_server import VALID_KEY, FakeCryptoCompare, trade_frame
from tests.harness import Names, consume_all

pytestmark = pytest.mark.integration


def candleflow() -> str:
    return str(Path(sys.executable).parent / "candleflow")


async def partition_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    admin = clients.admin(KafkaConfig(bootstrap), "test")
    await admin.start()
    try:
        return {d["topic"]: len(d["partitions"]) for d in await admin.describe_topics(topics)}
    finally:
        await admin.close()


async def test_publisher_creates_topics_counts_and_dead_letters(stack: StackInfo, names: Names) -> None:
    accepted_before = TICKS_ACCEPTED.labels(source="test")._value.get()
    rejected_before = TICKS_REJECTED.labels(source="test")._value.get()
    ts = int(time.time() * 1000)
    async with TickPublisher(
        KafkaConfig(stack.kafka_bootstrap),
        source="test",
        ticks_topic=names.ticks_topic,
        dead_topic=names.dead_topic,
        partitions=5,
        compression="gzip",
    ) as publisher:
        for i in range(1000):
            await publisher.publish(Tick(f"Coinbase:C{i % 7}/USD", ts + i, 1.0 + i, 0.5, "buy", str(i)))
        await publisher.reject(b"\xffnot a tick", "not JSON: boom")
        counts = await publisher.flush()
    assert (counts.published, counts.dead, counts.failed) == (1000, 1, 0)
    assert TICKS_ACCEPTED.labels(source="test")._value.get() - accepted_before == 1000
    assert TICKS_REJECTED.labels(source="test")._value.get() - rejected_before == 1
    assert await partition_counts(stack.kafka_bootstrap, [names.ticks_topic, names.dead_topic]) == {
        names.ticks_topic: 5,
        names.dead_topic: 1,
    }
    records = await consume_all(stack.kafka_bootstrap, names.ticks_topic, timeout=30, expect=1000)
    by_symbol: dict[bytes | None, set[int]] = {}
    for key, value, partition, _ in records:
        assert key == orjson.loads(value)["symbol"].encode()
        by_symbol.setdefault(key, set()).add(partition)
    assert all(len(p) == 1 for p in by_symbol.values())
    (dead,) = await consume_all(stack.kafka_bootstrap, names.dead_topic, timeout=30, expect=1)
    letter = orjson.loads(dead[1])
    assert (letter["reason"], letter["source"], letter["raw"]) == ("not JSON: boom", "test", "\ufffdnot a tick")


async def test_synthetic_cli_publishes_count_ticks(stack: StackInfo, names: Names) -> None:
    env = {**os.environ, **names.env(stack, stack.database_url, ticks_partitions=2)}
    process = await asyncio.create_subprocess_exec(
        candleflow(),
        "ingest",
        "synthetic",
        "--symbols",
        "Coinbase:BTC/USD,Binance:DOGE/USDT",
        "--rate",
        "2000",
        "--seed",
        "3",
        "--count",
        "500",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()[-2000:]
    assert b"500 ticks published" in out
    records = await consume_all(stack.kafka_bootstrap, names.ticks_topic, timeout=30, expect=500)
    assert len(records) == 500
    assert {k for k, _, _, _ in records} == {b"Coinbase:BTC/USD", b"Binance:DOGE/USDT"}


async def test_cryptocompare_cli_streams_live_trades_into_kafka(stack: StackInfo, names: Names) -> None:
    async with FakeCryptoCompare(heartbeat_interval=1.0) as server:
        now = int(time.time() * 1000)
        for n in range(3):  # replayed on subscribe
            server.add_history(
                trade_frame("Coinbase", "BTC", "USD", trade_id=str(n), ts_ms=now - 5000 + n, price=97000.5, qty=0.1)
            )
        env = {
            **os.environ,
            **names.env(
                stack,
                stack.database_url,
                cryptocompare_api_key=VALID_KEY,
                cryptocompare_url=server.ws_url,
                ticks_partitions=2,
            ),
        }
        process = await asyncio.create_subprocess_exec(
            candleflow(),
            "ingest",
            "cryptocompare",
            "--pairs",
            "Coinbase:BTC/USD,Nowhere:ETH/USD",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(30):
                await server.wait_until(lambda: server.subscribed("0~Coinbase~BTC~USD", connection=1))
            await server.trade(
                trade_frame("Coinbase", "BTC", "USD", trade_id="3", ts_ms=now, price=97001.25, qty=0.2, flags=1)
            )
            bad = trade_frame("Coinbase", "BTC", "USD", trade_id="4", ts_ms=now, price=1.0, qty=0.2)
            bad["P"] = -1
            await server.trade(bad)
            await server.disconnect_all()
            async with asyncio.timeout(30):
                await server.wait_until(lambda: server.subscribed("0~Coinbase~BTC~USD", connection=2))
            records = await consume_all(stack.kafka_bootstrap, names.ticks_topic, timeout=30, expect=4)
        finally:
            process.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()[-3000:]
    ticks = [orjson.loads(v) for _, v, _, _ in records]
    assert sorted(t["id"] for t in ticks) == ["0", "1", "2", "3"]  # no duplicate after the reconnect
    assert {"symbol": "Coinbase:BTC/USD", "ts": now, "price": 97001.25, "qty": 0.2, "side": "sell", "id": "3"} in ticks
    assert b"0~Nowhere~ETH~USD" in err  # the refused channel is reported
    (dead,) = await consume_all(stack.kafka_bootstrap, names.dead_topic, timeout=30, expect=1)
    assert "price must be > 0" in orjson.loads(dead[1])["reason"]
    assert b"4 trades published, 1 dead-lettered" in out


async def test_exchange_cli_runs_one_feed_by_hand(stack: StackInfo, names: Names) -> None:
    """`candleflow ingest kraken --pairs XBT/USD` against the local Kraken: its history,
    then live trades, in the topic; Ctrl-C ends it with a summary; a misspelt pair is a
    usage error that says what to write."""
    from tests.fakes.exchanges.cases import CASES

    case = CASES["kraken"]
    async with case.server(history=40, minutes=30) as server:
        env = {
            **os.environ,
            **names.env(stack, stack.database_url, ticks_partitions=2, market_history=1),
            **case.env(server),
        }
        process = await asyncio.create_subprocess_exec(
            candleflow(), "ingest", "kraken", "--pairs", "XBT/USD",
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await server.wait(lambda: server.subscribed("BTC/USD"), 30)
            await server.trade("BTC/USD", 5)
            records = await consume_all(stack.kafka_bootstrap, names.ticks_topic, timeout=30, expect=45)
        finally:
            process.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()[-3000:]
    ids = sorted(int(orjson.loads(v)["id"]) for _, v, _, _ in records)
    assert ids == [t.id for t in server.book.trades["BTC/USD"]]
    assert {orjson.loads(v)["symbol"] for _, v, _, _ in records} == {"Kraken:BTC/USD"}
    assert "kraken: 45 trades published" in out.decode()
    wrong = await asyncio.create_subprocess_exec(
        candleflow(), "ingest", "kraken", "--pairs", "XBTUSD", env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(wrong.communicate(), 30)
    assert wrong.returncode == 2
    assert "kraken market 'XBTUSD' is not BASE/QUOTE" in err.decode()
