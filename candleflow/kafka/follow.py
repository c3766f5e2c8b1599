"""Following every partition of a topic from its end, outside any consumer group.

What every web process's SSE hub does with `bars.updates`: all partitions assigned by
hand (no group to join, nothing committed), each positioned at its end when it is
first followed, and partitions added to the topic later picked up within
`refresh_s` (they start at their end too). `TopicFollower` only reads; what the records
mean is the caller's business (`candleflow.web.hub`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any

from aiokafka import TopicPartition

from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig

log = logging.getLogger(__name__)

#: Seconds between checks for new partitions of the topic.
PARTITION_REFRESH_S = 30.0
#: Seconds between checks for a topic that does not exist yet.
TOPIC_WAIT_S = 1.0
STOP_TIMEOUT_S = 5.0


class TopicFollower:
    """`async with TopicFollower(config, topic, role) as f:` then `await f.assign_all()`
    (returns once positioned at the end of every partition) and `async for records in
    f.batches():`."""

    def __init__(self, config: KafkaConfig, topic: str, role: str, *, refresh_s: float = PARTITION_REFRESH_S) -> None:
        self.topic = topic
        self.refresh_s = refresh_s
        self._consumer = clients.assigned_reader(config, role, auto_offset_reset="latest")
        self._admin = clients.admin(config, f"{role}-metadata")
        self._assigned: set[TopicPartition] = set()

    async def __aenter__(self) -> TopicFollower:
        try:
            await self._consumer.start()
            await self._admin.start()
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stop()

    async def _stop(self) -> None:
        for close in (self._consumer.stop, self._admin.close):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(close(), STOP_TIMEOUT_S)

    async def partitions(self) -> set[int]:
        """The topic's partitions now (empty while it does not exist)."""
        (described,) = await self._admin.describe_topics([self.topic])
        if described["error_code"] != 0:
            return set()
        return {p["partition"] for p in described["partitions"]}

    async def assign_all(self) -> None:
        """Follow every partition of the topic (waiting for it to exist); partitions not
        followed before start at their end, resolved now: nothing produced after this
        returns is missed."""
        while not (partitions := await self.partitions()):
            log.info("waiting for topic %s to exist", self.topic)
            await asyncio.sleep(TOPIC_WAIT_S)
        wanted = {TopicPartition(self.topic, p) for p in partitions}
        if wanted <= self._assigned:
            return
        consumer = self._consumer
        # a new assignment forgets positions: keep those of the partitions already followed
        kept = {tp: await consumer.position(tp) for tp in self._assigned}
        consumer.assign(sorted(wanted))
        for tp, offset in kept.items():
            consumer.seek(tp, offset)
        fresh = sorted(wanted - self._assigned)
        await consumer.seek_to_end(*fresh)
        for tp in fresh:
            await consumer.position(tp)
        self._assigned = wanted

    async def batches(self, max_records: int = 5000) -> AsyncIterator[Sequence[Any]]:
        """Records as they arrive, one list per fetch (empty lists are not yielded)."""
        loop = asyncio.get_running_loop()
        refresh_at = loop.time() + self.refresh_s
        while True:
            fetched = await self._consumer.getmany(timeout_ms=500, max_records=max_records)
            records = [record for batch in fetched.values() for record in batch]
            if records:
                yield records
            if loop.time() >= refresh_at:
                await self.assign_all()
                refresh_at = loop.time() + self.refresh_s
