"""Each rejected record is dead-lettered exactly once, across retries, crashes and rebalances.

In-process, against the real broker and database, the outbox is stopped at the moment a
crash would hit — after the broker acknowledged a send, before the rows are deleted —
and a fresh publisher (a restarted or another worker) takes over: it finds those records
on the topic and sends nothing again. A send marked tried that never reached the broker
is sent once. Two publishers at once never both send a partition. And a worker process,
SIGKILLed at random moments while malformed records stream in, ends with every one of
them on the dead-letter topic once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from candleflow.core.settings import Settings
from candleflow.domain.dead_letters import Origin, dead_letter
from candleflow.engine.outbox import DeadLetterOutbox
from candleflow.engine.sink import KafkaSink
from candleflow.kafka.config import KafkaConfig
from candleflow.store import dead_letters as store
from candleflow.store.database import Database
from tests.harness import engine as harness
from tests.harness.inprocess import assert_each_once, dead_letters
from tests.harness.kafka import consume_all, create_topics
from tests.harness.tickgen import generate

pytestmark = pytest.mark.integration

PARTITIONS = 4
DEAD_PARTITIONS = 2
#: (ticks partition, offsets) of the rows each test puts in the outbox
ROWS = {0: range(0, 12), 3: range(100, 105)}


class Crash(Exception):
    """Where a SIGKILL would hit."""


@dataclass
class Outboxes:
    settings: Settings
    pool: Database
    sink: KafkaSink
    expected: dict[Origin, bytes | None]

    def make(self, after_send: Any = None) -> DeadLetterOutbox:
        return DeadLetterOutbox(
            self.pool,
            self.sink,
            kafka=self.sink.kafka,
            dead_topic=self.settings.dead_topic,
            consumer=self.settings.app_id,
            topic=self.settings.ticks_topic,
            after_send=after_send,
        )

    async def pending(self) -> int:
        return await store.count(self.pool, self.settings.app_id, self.settings.ticks_topic)


@pytest.fixture
async def outboxes(stack: Any, names: Any, database_url: str) -> AsyncIterator[Outboxes]:
    """The outbox holding `ROWS`, as a committed batch leaves them."""
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: PARTITIONS, names.dead_topic: DEAD_PARTITIONS})
    settings = Settings.from_env(names.env(stack, database_url))
    pool = await Database(database_url, 4).connected()
    sink = KafkaSink(settings, KafkaConfig.from_settings(settings))
    expected: dict[Origin, bytes | None] = {}
    rows = []
    for partition, offsets in ROWS.items():
        for offset in offsets:
            origin = Origin(settings.ticks_topic, partition, offset)
            raw = f"not a tick {partition}/{offset}".encode()
            expected[origin] = raw
            rows.append((partition, offset, b"bad", dead_letter(raw, "not JSON", "engine", origin)))
    async with pool.transaction() as conn:
        await store.record(conn, settings.app_id, settings.ticks_topic, rows)
    try:
        yield Outboxes(settings, pool, sink, expected)
    finally:
        await sink.close()
        await pool.close()


async def on_topic(outboxes: Outboxes) -> Any:
    return await dead_letters(
        outboxes.settings.kafka_bootstrap,
        outboxes.settings.dead_topic,
        outboxes.settings.app_id,
        len(outboxes.expected),
    )


async def test_a_crash_between_send_and_delete_sends_nothing_twice(outboxes: Outboxes) -> None:
    async def crash() -> None:
        raise Crash

    with pytest.raises(Crash):
        await outboxes.make(after_send=crash).publish()
    assert await outboxes.pending() == len(outboxes.expected)  # sent (one partition) but not deleted
    with pytest.raises(Crash):
        await outboxes.make(after_send=crash).publish()  # the other partition too, the first found
    await outboxes.make().publish()
    assert await outboxes.pending() == 0
    assert_each_once(await on_topic(outboxes), outboxes.expected)


async def test_a_send_marked_tried_that_never_reached_the_broker_is_sent_once(outboxes: Outboxes) -> None:
    settings = outboxes.settings
    async with outboxes.pool.connection() as conn:
        for partition, offsets in ROWS.items():
            await store.attempted(conn, settings.app_id, settings.ticks_topic, partition, list(offsets), time.time())
    assert await outboxes.make().publish() == len(outboxes.expected)
    assert await outboxes.pending() == 0
    assert_each_once(await on_topic(outboxes), outboxes.expected)


async def test_two_publishers_at_once_send_each_record_once(outboxes: Outboxes) -> None:
    held = asyncio.Event()

    async def slow() -> None:
        held.set()
        await asyncio.sleep(0.5)

    first = asyncio.ensure_future(outboxes.make(after_send=slow).publish())
    await held.wait()  # the first holds a partition's lock now
    second = await outboxes.make().publish()
    assert second + await first == len(outboxes.expected)
    assert await outboxes.pending() == 0
    assert_each_once(await on_topic(outboxes), outboxes.expected)


async def test_sigkill_at_random_moments_dead_letters_each_malformed_record_once(
    stack: Any, names: Any, database_url: str, worker_factory: Any
) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: PARTITIONS, names.dead_topic: DEAD_PARTITIONS})
    env = names.env(stack, database_url, CANDLEFLOW_TICKS_PARTITIONS=str(PARTITIONS), CANDLEFLOW_BATCH_MAX="300")
    rnd = random.Random(17)
    records: list[dict[str, Any] | bytes] = []
    for n, tick in enumerate(generate(20_000, days=1.0, seed=61)):
        records.append(tick)
        if rnd.random() < 0.03:
            records.append(orjson.dumps({**tick, "qty": 1e308}) if n % 2 else f"bad {n}".encode())
    worker = worker_factory.start(env)
    await asyncio.to_thread(worker.wait_ready)
    streaming = asyncio.ensure_future(harness.publish(stack.kafka_bootstrap, names.ticks_topic, records, pace=0.6))
    kills = 0
    while kills < 5 and not streaming.done():
        await asyncio.sleep(rnd.uniform(0.3, 2.0))
        worker.kill()
        kills += 1
        worker.restart()
        await asyncio.to_thread(worker.wait_ready)
    assert kills >= 3, "the stream ended before the worker was killed 3 times: publish slower"
    await streaming
    await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    await harness.assert_matches_log(stack.kafka_bootstrap, names.ticks_topic, database_url)
    expected = {
        Origin(names.ticks_topic, p, o): v
        for _, v, p, o in await consume_all(stack.kafka_bootstrap, names.ticks_topic, timeout=60)
        if v is not None and (v.startswith(b"bad") or b'"qty":1e+308' in v)
    }
    assert len(expected) > 400
    letters = await dead_letters(stack.kafka_bootstrap, names.dead_topic, names.app_id, len(expected))
    assert_each_once(letters, expected)
