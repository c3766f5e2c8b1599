"""Real Kafka helpers for tests: create topics, read a whole topic back."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from aiokafka import TopicPartition
from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig
from tests.harness.waiting import eventually

#: (key, value, partition, offset) of one record; key and value are the raw bytes.
Record = tuple[bytes | None, bytes, int, int]


async def create_topics(bootstrap: str, topics: Mapping[str, int], timeout: float = 30) -> None:  # noqa: ASYNC109 (a deadline over many awaits)
    """Create `{name: partitions}` (replication 1) and wait until every partition has a
    leader. Existing topics are left as they are."""
    admin = clients.admin(KafkaConfig(bootstrap), "test")
    await admin.start()

    async def ready() -> bool:
        described = await admin.describe_topics(list(topics))
        return all(
            d["error_code"] == 0
            and len(d["partitions"]) == topics[d["topic"]]
            and all(p["leader"] >= 0 for p in d["partitions"])
            for d in described
        )

    try:
        for name, partitions in topics.items():
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(name, partitions, 1)])
        await eventually(ready, timeout, interval=0.2, what=f"every partition of {sorted(topics)} has a leader")
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
    least that many records arrived. Fails (AssertionError) when neither happens in time.
    Records come sorted by (partition, offset).
    """
    partitions = await partitions_of(bootstrap, topic, timeout)
    consumer = clients.assigned_reader(KafkaConfig(bootstrap), "test")
    await consumer.start()
    records: list[Record] = []
    end: dict[TopicPartition, int] = {}

    async def read_on() -> bool:
        """Read one fetch; True once at the end offsets (and `expect` records read)."""
        caught_up = all([await consumer.position(tp) >= end[tp] for tp in partitions])
        if caught_up and (expect is None or len(records) >= expect):
            return True
        if caught_up:
            end.update(await consumer.end_offsets(partitions))
        batch = await consumer.getmany(timeout_ms=500)
        for messages in batch.values():
            records.extend((m.key, m.value, m.partition, m.offset) for m in messages)
        return False

    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end.update(await consumer.end_offsets(partitions))
        wanted = f"{expect} records" if expect is not None else "the end offsets"
        await eventually(read_on, timeout, interval=0, what=f"{topic}: {wanted} read")
    finally:
        await consumer.stop()
    return sorted(records, key=lambda r: (r[2], r[3]))


async def existing_partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    """The topic's partitions now (none while it does not exist), read with a metadata
    request (which never creates it)."""
    admin = clients.admin(KafkaConfig(bootstrap), "test")
    await admin.start()
    try:
        (found,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if found["error_code"] != 0:
        return []
    return [TopicPartition(topic, p["partition"]) for p in sorted(found["partitions"], key=lambda p: p["partition"])]


async def partitions_of(bootstrap: str, topic: str, timeout: float = 30) -> list[TopicPartition]:  # noqa: ASYNC109
    """The topic's partitions, once it exists."""
    return await eventually(
        lambda: existing_partitions(bootstrap, topic), timeout, interval=0.2, what=f"topic {topic} exists"
    )
