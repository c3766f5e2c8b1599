"""Helpers for tests of the bar engine against the real stack: publish a tick log,
wait until the database has absorbed it, and read back what the engine stored."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from candleflow.core.settings import Settings
from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import parse_tick
from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig
from candleflow.store import verify_queries
from tests.harness.kafka import consume_all, existing_partitions, partitions_of
from tests.harness.reference import BarKey, LogTick, RefBar, reference_bars, reference_indicators
from tests.harness.waiting import eventually


async def publish(bootstrap: str, topic: str, records: Sequence[dict[str, Any] | bytes], pace: float = 0.0) -> None:
    """Send records keyed by symbol (bytes are sent as they are, keyed `bad`).

    `pace` > 0 sleeps that many seconds after every 1,000 records.
    """
    producer = clients.producer(KafkaConfig(bootstrap), "test", linger_ms=5)
    await producer.start()
    try:
        pending = []
        for i, record in enumerate(records):
            if isinstance(record, bytes):
                key, value = b"bad", record
            else:
                key, value = str(record.get("symbol", "bad")).encode(), orjson.dumps(record)
            pending.append(await producer.send(topic, value=value, key=key))
            if pace and i % 1000 == 999:
                await asyncio.gather(*pending)
                pending.clear()
                await asyncio.sleep(pace)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def highwaters(bootstrap: str, topic: str, *, wait: bool = True) -> dict[int, int]:
    """The end offset of each partition of `topic` (once it exists; with `wait=False`,
    none while it does not)."""
    tps = await (partitions_of(bootstrap, topic) if wait else existing_partitions(bootstrap, topic))
    if not tps:
        return {}
    consumer = clients.assigned_reader(KafkaConfig(bootstrap), "test")
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def log_ticks(bootstrap: str, topic: str) -> list[LogTick]:
    """Every valid tick in the topic with its offset, read by an independent consumer."""
    ticks: list[LogTick] = []
    for _, value, _, offset in await consume_all(bootstrap, topic, timeout=120):
        try:
            tick = parse_tick(value)
        except InvalidTick:
            continue
        ticks.append(LogTick(tick.symbol, tick.ts, tick.price, tick.qty, offset))
    return ticks


async def wait_absorbed(database_url: str, consumer: str, bootstrap: str, topic: str, within: float = 240) -> None:
    """Until the ledger's next offsets reach the topic's highwaters (at most `within` seconds)."""
    ends = await highwaters(bootstrap, topic)
    conn = await asyncpg.connect(database_url)

    async def absorbed() -> bool:
        done = await verify_queries.ledger(conn, consumer, topic)
        return all(done.get(p, 0) >= end for p, end in ends.items())

    try:
        await eventually(absorbed, within, interval=0.2, what=f"the engine absorbed {topic} up to {ends}")
    finally:
        await conn.close()


async def ledger(database_url: str, consumer: str, topic: str) -> dict[int, int]:
    """The engine's ledger: the next offset to absorb, per partition it has absorbed."""
    conn = await asyncpg.connect(database_url)
    try:
        return await verify_queries.ledger(conn, consumer, topic)
    finally:
        await conn.close()


async def absorbed(database_url: str, consumer: str, topic: str, at_least: int) -> bool:
    """True once the ledger shows at least `at_least` records of `topic` absorbed."""
    conn = await asyncpg.connect(database_url)
    try:
        done = await conn.fetchval(
            "SELECT coalesce(sum(next_offset), 0) FROM source_offsets WHERE consumer = $1 AND topic = $2",
            consumer,
            topic,
        )
    finally:
        await conn.close()
    return int(done) >= at_least


async def stored_bars(database_url: str) -> dict[BarKey, RefBar]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT symbol, resolution, (extract(epoch from bucket) * 1000)::bigint AS bucket,"
            " open, high, low, close, volume, trades FROM bars"
        )
    finally:
        await conn.close()
    return {
        (r["symbol"], r["resolution"], r["bucket"]): RefBar(
            r["open"], r["high"], r["low"], r["close"], Decimal(r["volume"]), r["trades"]
        )
        for r in rows
    }


async def stored_indicators(
    database_url: str,
) -> tuple[dict[tuple[str, str, str, int, int], float], dict[tuple[str, str, int], str]]:
    conn = await asyncpg.connect(database_url)
    try:
        values = await conn.fetch(
            "SELECT symbol, resolution, kind, period, (extract(epoch from bucket) * 1000)::bigint AS bucket, value"
            " FROM indicators"
        )
        marks = await conn.fetch(
            "SELECT symbol, resolution, (extract(epoch from bucket) * 1000)::bigint AS bucket, kind FROM marks"
        )
    finally:
        await conn.close()
    return (
        {(r["symbol"], r["resolution"], r["kind"], r["period"], r["bucket"]): r["value"] for r in values},
        {(r["symbol"], r["resolution"], r["bucket"]): r["kind"] for r in marks},
    )


async def bars_digest(database_url: str) -> str:
    """A hash of the ordered bars table (values only, not the bookkeeping columns)."""
    conn = await asyncpg.connect(database_url)
    try:
        return str(
            await conn.fetchval(
                "SELECT md5(string_agg(concat_ws(',', symbol, resolution, bucket, open, high, low, close, volume,"
                " trades), ';' ORDER BY symbol, resolution, bucket)) FROM bars"
            )
        )
    finally:
        await conn.close()


async def assert_matches_log(bootstrap: str, topic: str, database_url: str) -> None:
    """Every stored bar, moving average and mark equals the reference aggregation of the
    topic's valid ticks (invariant 1)."""
    expected = reference_bars(await log_ticks(bootstrap, topic))
    stored = await stored_bars(database_url)
    wrong = sorted(k for k in expected.keys() | stored.keys() if expected.get(k) != stored.get(k))
    assert not wrong, f"{len(wrong)} bars differ, e.g. {[(k, expected.get(k), stored.get(k)) for k in wrong[:3]]}"
    conf = Settings()
    values, marks = reference_indicators(expected, conf.ma_periods, conf.crossover)
    stored_values, stored_marks = await stored_indicators(database_url)
    assert stored_values.keys() == values.keys()
    off = [k for k, v in values.items() if not math.isclose(v, stored_values[k], rel_tol=1e-12)]
    assert not off, f"{len(off)} indicator values differ, e.g. {[(k, values[k], stored_values[k]) for k in off[:3]]}"
    assert stored_marks == marks
