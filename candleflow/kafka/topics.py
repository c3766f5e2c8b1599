"""The topics candleflow uses, in one table, and making sure they exist.

* `ticks.raw` (`CANDLEFLOW_TICKS_TOPIC`), `CANDLEFLOW_TICKS_PARTITIONS` partitions: keyed
  by symbol; the engine's scale-out limit.
* `ticks.dead` (`CANDLEFLOW_DEAD_TOPIC`), 1 partition: rare, read in arrival order.
* `bars.updates` (`CANDLEFLOW_UPDATES_TOPIC`), `CANDLEFLOW_TICKS_PARTITIONS` partitions:
  keyed by series; every web process reads them all.

`ticks.dead` has one partition: dead letters are few (a malformed record is rejected
once), no consumer group reads them in parallel, and one partition keeps them in the
order they were rejected for whoever reads them. Workers once created it with as many
partitions as the ticks topic and sources with one; an existing topic is never changed,
and any count works (the engine's outbox sends the dead letters of ticks partition p to
partition p modulo the count, `candleflow.engine.outbox`).
Brokers may refuse to create topics on first use, so every writer calls
`ensure_topics` before it writes. `partition_of` says which partition of a topic a key
lands in (the producers' default partitioner): a Bar Replay reads only its symbols'.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka.admin import NewTopic
from aiokafka.partitioner import DefaultPartitioner

from candleflow.core.settings import Settings
from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.exceptions import TopicError

log = logging.getLogger(__name__)

#: Kafka error code for "topic already exists" (another process won the race).
_TOPIC_ALREADY_EXISTS = 36
#: How long topic creation may take at most.
CREATE_TIMEOUT_S = 30.0
#: Partitions of the dead-letter topic (see the module docstring).
DEAD_PARTITIONS = 1


@dataclass(frozen=True, slots=True)
class Topic:
    """One topic: its name, its partitions and the configs it is created with."""

    name: str
    partitions: int
    configs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Topics:
    """The table of the module docstring, for one set of settings."""

    ticks: Topic
    dead: Topic
    updates: Topic

    @classmethod
    def from_settings(cls, settings: Settings) -> Topics:
        return cls(
            ticks=Topic(settings.ticks_topic, settings.ticks_partitions),
            dead=Topic(settings.dead_topic, DEAD_PARTITIONS),
            updates=Topic(settings.updates_topic, settings.ticks_partitions),
        )

    @property
    def all(self) -> tuple[Topic, ...]:
        return (self.ticks, self.dead, self.updates)


async def ensure_topics(config: KafkaConfig, topics: Sequence[Topic]) -> list[str]:
    """Create each missing topic of `topics`; return the names created. Existing topics
    are left as they are (their partitions included)."""
    admin = clients.admin(config, request_timeout_s=CREATE_TIMEOUT_S)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in topics if topic.name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(t.name, t.partitions, config.replication_factor, topic_configs=dict(t.configs)) for t in missing],
            timeout_ms=int(CREATE_TIMEOUT_S * 1000),
        )
        wanted = {t.name: t for t in missing}
        for name, code, *rest in getattr(response, "topic_errors", []):
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                message = rest[0] if rest else ""
                raise TopicError(
                    f"cannot create Kafka topic {name!r} (error {code}: {message}); create it "
                    f"yourself with {wanted[name].partitions} partitions or check the broker's ACLs"
                )
        log.info("created Kafka topics %s", ", ".join(f"{t.name} ({t.partitions} partitions)" for t in missing))
        return [t.name for t in missing]
    finally:
        await admin.close()


async def topic_partitions(config: KafkaConfig, topic: str) -> list[int]:
    """The topic's partition numbers, from a metadata request that never creates it
    (`TopicError` when it does not exist)."""
    admin = clients.admin(config)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"] != 0 or not described["partitions"]:
        raise TopicError(f"topic {topic!r} does not exist on {config.bootstrap}: check its name in the settings")
    return sorted(p["partition"] for p in described["partitions"])


def partition_of(key: str, partitions: list[int]) -> int:
    """The partition of `partitions` (sorted) a record keyed `key` goes to: the producer's
    default partitioner (murmur2, as Java's), which every producer of the ticks topic uses."""
    return int(DefaultPartitioner()(key.encode(), partitions, partitions))
