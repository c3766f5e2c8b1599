"""No record stops the engine. On the real broker and database, records of every kind
Hypothesis can make — any bytes, any JSON, numbers at and past the bounds (1e308, -0,
NaN and infinity spelled every way), huge strings, records of 300 KB and more, invalid
UTF-8, NUL bytes, tombstones, odd keys — are mixed into valid ticks, example after
example, into one running worker: after each, the stored bars, averages and marks equal
the reference of the valid ticks, and every other record is on the dead-letter topic
exactly once, bounded, with its reason and the hash of what it held.

A batch the store itself refuses is split until the refused records are found: a CHECK
constraint added to this test's database (a store limit no validation knows) refuses a
few valid ticks; they are dead-lettered with the store's reason and every other tick of
their batch is stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from candleflow.core import metrics
from candleflow.core.settings import Settings
from candleflow.domain.dead_letters import Origin
from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import parse_tick
from candleflow.worker import Worker
from tests.harness import engine as harness
from tests.harness.inprocess import assert_each_once, dead_letters, publish_keyed, running_worker
from tests.harness.kafka import consume_all, create_topics
from tests.harness.reference import LogTick, reference_bars
from tests.harness.tickgen import generate

pytestmark = pytest.mark.integration

PARTITIONS = 4
DEAD_PARTITIONS = 3
SYMBOL = "Coinbase:BTC/USD"
#: A trade time well inside the accepted window for the whole test.
TS = int(time.time() * 1000) - 120_000


@dataclass
class World:
    stack: Any
    names: Any
    database_url: str
    worker: Worker


@pytest.fixture
async def world(stack: Any, names: Any, database_url: str) -> AsyncIterator[World]:
    """One worker for the whole test, every Hypothesis example feeding the same log."""
    topics = {names.ticks_topic: PARTITIONS, names.dead_topic: DEAD_PARTITIONS, names.updates_topic: PARTITIONS}
    await create_topics(stack.kafka_bootstrap, topics)
    env = names.env(stack, database_url, CANDLEFLOW_TICKS_PARTITIONS=str(PARTITIONS), CANDLEFLOW_BATCH_MAX="400")
    async with running_worker(Settings.from_env(env), database_url, PARTITIONS) as worker:
        yield World(stack, names, database_url, worker)


numbers = st.one_of(
    st.sampled_from(
        [1e308, -1e308, 5e-324, -0.0, 0.0, 1e15, 1.0000001e15, 1e-15, 9.9e-16, 1e24, 1.01e24, 2**63, 2**64 + 1]
    ),
    st.floats(),  # json.dumps writes nan and infinities as NaN / Infinity: not JSON
    st.integers(),
    st.sampled_from(["NaN", "nan", "-nan", "Infinity", "-inf", "1e308", "1e-400", "1" + "0" * 400, "-0", "0x10"]),
    st.sampled_from(["1_000", " 12 ", "", "١٢"]),
)
texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from([SYMBOL + "\x00", "x" * 70_000, SYMBOL + "\u2028", "\ud800", "Coinbase:btc/usd"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
tick_shaped = st.fixed_dictionaries(
    {},
    optional={
        "symbol": st.sampled_from([SYMBOL, "Kraken:SOL/USD"]) | texts,
        "ts": st.sampled_from([TS, TS - 3_600_000, TS + 10**9, 5, -1]) | numbers,
        "price": numbers | texts,
        "qty": numbers | texts,
        "side": st.sampled_from(["buy", "sell", "hold", None]),
        "id": texts | st.integers(),
        "tick_size": st.sampled_from(["0.01", "0.05", "0", "x", 1e-20, 0.5]),
        "extra": json_values,
    },
).map(lambda fields: json.dumps(fields).encode())
invalid_utf8 = st.binary(min_size=1, max_size=16).map(
    lambda tail: f'{{"symbol":"{SYMBOL}","ts":{TS},"price":1,"qty":1,"id":"'.encode() + b"\xff" + tail + b'"}'
)
large = st.sampled_from(
    [
        b"\x01" * 300_001,
        b"{" + b"\xff" * 350_000,
        json.dumps({"symbol": "x" * 400_000, "ts": TS, "price": 1, "qty": 1}).encode(),
        json.dumps({"symbol": SYMBOL, "ts": TS, "price": 1.5, "qty": 2, "id": "y" * 300_000}).encode(),  # valid
        None,  # a tombstone
    ]
)
records: st.SearchStrategy[bytes | None] = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    tick_shaped,
    tick_shaped,
    invalid_utf8,
    large,
)
keys = st.sampled_from([None, b"bad", SYMBOL.encode(), b"k" * 2000, b"\xff\x00"])


def batch_splits() -> float:
    return metrics.REGISTRY.get_sample_value("candleflow_engine_batch_splits_total") or 0.0


def is_tick(value: bytes | None) -> bool:
    if value is None:
        return False
    try:
        parse_tick(value)
    except InvalidTick:
        return False
    return True


async def expected_dead(world: World) -> dict[Origin, bytes | None]:
    """Every record of the ticks topic that is no tick, by where it sits."""
    topic = world.names.ticks_topic
    return {
        Origin(topic, partition, offset): value
        for _, value, partition, offset in await consume_all(world.stack.kafka_bootstrap, topic, timeout=60)
        if not is_tick(value)
    }


@settings(
    max_examples=6,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one worker for every example, on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(data=st.data())
async def test_whatever_arrives_the_engine_goes_on_and_dead_letters_each_refused_record_once(
    world: World, data: st.DataObject
) -> None:
    bootstrap, names = world.stack.kafka_bootstrap, world.names
    ticks = generate(data.draw(st.integers(20, 300)), days=0.2, seed=data.draw(st.integers(0, 10**6)))
    mixed: list[tuple[bytes | None, bytes | None]] = [(str(t["symbol"]).encode(), orjson.dumps(t)) for t in ticks]
    for key, value in data.draw(st.lists(st.tuples(keys, records), min_size=1, max_size=10)):
        item = (key if key is not None or value is not None else b"tombstone", value)  # Kafka needs one of them
        mixed.insert(data.draw(st.integers(0, len(mixed))), item)
    await publish_keyed(bootstrap, names.ticks_topic, mixed)
    await harness.wait_absorbed(world.database_url, names.app_id, bootstrap, names.ticks_topic, within=90)
    await harness.assert_matches_log(bootstrap, names.ticks_topic, world.database_url)
    expected = await expected_dead(world)
    assert_each_once(await dead_letters(bootstrap, names.dead_topic, names.app_id, len(expected)), expected)


async def test_a_batch_the_store_refuses_is_split_and_only_the_refused_records_are_dead_lettered(
    world: World,
) -> None:
    """Three valid ticks break a limit of this database: they alone go to ticks.dead, with
    the store's reason, and the other ticks of their batches are stored."""
    bootstrap, names = world.stack.kafka_bootstrap, world.names
    conn = await asyncpg.connect(world.database_url)
    try:
        await conn.execute("ALTER TABLE bars ADD CONSTRAINT test_volume_limit CHECK (volume < 1e20)")
    finally:
        await conn.close()
    splits = batch_splits()
    ticks = generate(1200, days=0.5, seed=3)
    for position in (100, 640, 1111):
        ticks[position] = {**ticks[position], "qty": 5e20}
    await harness.publish(bootstrap, names.ticks_topic, ticks)
    await harness.wait_absorbed(world.database_url, names.app_id, bootstrap, names.ticks_topic, within=90)
    log = await consume_all(bootstrap, names.ticks_topic, timeout=60)
    stored = [
        LogTick(t.symbol, t.ts, t.price, t.qty, offset)
        for _, value, _, offset in log
        if (t := parse_tick(value)).qty < 1e20
    ]
    got = await harness.stored_bars(world.database_url)
    assert got == reference_bars(stored)
    refused = {Origin(names.ticks_topic, p, o): v for _, v, p, o in log if parse_tick(v).qty >= 1e20}
    assert len(refused) == 3
    letters = await dead_letters(bootstrap, names.dead_topic, names.app_id, len(refused))
    assert_each_once(letters, refused)
    assert all(
        "the store refused it" in str(d.record["reason"]) and "23514" in str(d.record["reason"]) for d in letters
    )
    assert world.worker.status.store_refused == 3
    assert batch_splits() > splits
