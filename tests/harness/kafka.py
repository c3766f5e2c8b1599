"""Real Kafka helpers for tests: create topics, read a whole topic back."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping

from aiokafka import TopicPartition
from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig

#: (key, value, partition, offset) of one record; key and value are the raw bytes.
Record = tuple[bytes | None, bytes, int, int]


async def create_topics(bootstrap: str, topics: Mapping[str, int], timeout: float = 30) -> None:  # noqa: ASYNC109 (a deadline over many awaits)
    """Create `{name: partitions}` (replication 1) and wait until every partition has a
    leader. Existing topics are left as they are."""
    admin = clients.admin(KafkaConfig(bootstrap), "test")
    await admin.start()
    try:
        for name, partitions in topics.items():
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(name, partitions, 1)])
        deadline = time.monotonic() + timeout
        while True:
            described = await admin.describe_topics(list(topics))
            ready = {
                d["topic"]
                for d in described
                if d["error_code"] == 0
                and len(d["partitions"]) == topics[d["topic"]]
                and all(p["leader"] >= 0 for p in d["partitions"])
            }
            if ready == set(topics):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics {sorted(set(topics) - ready)} not ready in {timeout}s")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def consume_all(
    bootstrap: str,
    topic: str,
    timeout: float = 30,  # noqa: ASYNC109 (a deadline over many awaits)
    expect: int | None = None,
) -> list[Record]:
    """Every record of `topic` from the beginning, with a real consumer and no group.

    Reads up to the end offsets seen at the call; with `expect`, keeps reading until at
    least that many records arrived. Raises TimeoutError when neither happens in time.
    Records come sorted by (partition, offset).
    """
    deadline = time.monotonic() + timeout
    partitions = await _partitions(bootstrap, topic, deadline)
    consumer = clients.assigned_reader(KafkaConfig(bootstrap), "test")
    await consumer.start()
    records: list[Record] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        while True:
            caught_up = all([await consumer.position(tp) >= end[tp] for tp in partitions])
            if caught_up and (expect is None or len(records) >= expect):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                wanted = f"{expect} records" if expect is not None else "the end offsets"
                raise TimeoutError(f"{topic}: read {len(records)} records, not {wanted}")
            if caught_up:
                end = await consumer.end_offsets(partitions)
            batch = await consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            for messages in batch.values():
                records.extend((m.key, m.value, m.partition, m.offset) for m in messages)
    finally:
        await consumer.stop()
    return sorted(records, key=lambda r: (r[2], r[3]))


async def _partitions(bootstrap: str, topic: str, deadline: float) -> list[TopicPartition]:
    """The topic's partitions, read with a metadata request (which never creates it)."""
    admin = clients.admin(KafkaConfig(bootstrap), "test")
    await admin.start()
    try:
        while True:
            (described,) = await admin.describe_topics([topic])
            if described["error_code"] == 0 and described["partitions"]:
                return [
                    TopicPartition(topic, p["partition"])
                    for p in sorted(described["partitions"], key=lambda p: p["partition"])
                ]
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic} does not exist")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
