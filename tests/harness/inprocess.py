"""A `Worker` run in this test's event loop against the real stack, through its constructor
(the test seam), and the keyed records and dead letters its tests publish and read."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

import orjson

from candleflow.core.settings import Settings
from candleflow.domain.dead_letters import MAX_BYTES, Origin, origin_of
from candleflow.engine.sink import KafkaSink
from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig
from candleflow.store.database import Database
from candleflow.worker import Worker
from tests.harness.kafka import partitions_of
from tests.harness.waiting import eventually


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, database_url: str, partitions: int) -> AsyncIterator[Worker]:
    """A worker that runs until the block ends, holding all `partitions` when it is entered;
    the block fails if the worker's run ends by itself."""
    database = await Database(database_url, 4).connected()
    worker = Worker(settings, database, KafkaSink(settings, KafkaConfig.from_settings(settings)))
    task = asyncio.create_task(worker.run())
    try:
        await eventually(
            lambda: task.done() or worker.reader.assigned == set(range(partitions)), 60, what="the worker holds the log"
        )
        assert not task.done(), f"the worker stopped: {task.exception()!r}"
        yield worker
        assert not task.done(), f"the worker stopped: {task.exception()!r}"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()


async def publish_keyed(bootstrap: str, topic: str, records: Sequence[tuple[bytes | None, bytes | None]]) -> None:
    """Send `(key, value)` records as they are, in order, and wait for every acknowledgement."""
    producer = clients.producer(
        KafkaConfig(bootstrap), "test", enable_idempotence=False, max_request_size=4 * 1_048_576
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


@dataclass(frozen=True)
class DeadLetter:
    origin: Origin
    record: dict[str, object]
    size: int


async def dead_letters(
    bootstrap: str, dead_topic: str, consumer: str, expect: int, within: float = 60
) -> list[DeadLetter]:
    """The engine `consumer`'s dead letters on `dead_topic`: every record up to the end, read
    until at least `expect` of them are there (then to the end offsets of that moment)."""
    tps = await partitions_of(bootstrap, dead_topic, within)
    reader = clients.assigned_reader(KafkaConfig(bootstrap), "test")
    await reader.start()
    letters: list[DeadLetter] = []

    async def read_on() -> bool:
        end = await reader.end_offsets(tps)
        if len(letters) >= expect and all([await reader.position(tp) >= end[tp] for tp in tps]):
            return True
        for messages in (await reader.getmany(timeout_ms=500)).values():
            for message in messages:
                origin = origin_of(message.headers, consumer)
                assert origin is not None, f"a dead letter without its origin: {message.headers!r}"
                value = message.value or b""
                letters.append(DeadLetter(origin, orjson.loads(value), len(value)))
        return False

    try:
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        await eventually(read_on, within, interval=0, what=f"{expect} dead letters on {dead_topic}")
        return letters
    finally:
        await reader.stop()


def assert_each_once(letters: Sequence[DeadLetter], expected: Mapping[Origin, bytes | None]) -> None:
    """Every expected record is dead-lettered exactly once, bounded, with a reason and the
    hash of what it held; nothing else is."""
    origins = [letter.origin for letter in letters]
    doubled = {o for o in origins if origins.count(o) > 1}
    assert not doubled, f"dead-lettered more than once: {sorted(doubled)[:5]}"
    assert set(origins) == set(expected), (
        f"missing {sorted(set(expected) - set(origins))[:5]}, unexpected {sorted(set(origins) - set(expected))[:5]}"
    )
    for letter in letters:
        assert letter.size <= MAX_BYTES
        assert letter.record["reason"]
        raw = expected[letter.origin] or b""
        assert letter.record["raw_sha256"] == hashlib.sha256(raw).hexdigest()
        assert letter.record["raw_length"] == len(raw)
