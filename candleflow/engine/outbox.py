"""The engine's dead letters, published from the outbox to `ticks.dead`, each exactly once.

A batch's rejected records are stored in the `dead_letters` table in the batch's own
transaction (`candleflow.store.dead_letters`), so a record is in the outbox exactly when
the ledger has moved past it: a retry, a crash or a rebalance before the commit leaves
nothing behind, and one after it leaves the row. After each commit that rejected
records, and every `IDLE_S` anyway, `DeadLetterOutbox` publishes the rows, one partition
at a time under that partition's advisory lock (two workers never publish the same rows
at once):

1. rows already tried (`attempts` > 0: a send may have reached the broker before a crash
   or a failed acknowledgement) are looked for on the dead-letter partition, from shortly
   before their last attempt to the end; the ones found are done;
2. the others are marked tried (committed), sent, and deleted once the broker
   acknowledged every one of them.

A crash between 2's send and delete leaves tried rows, which the next publisher (the
same worker after a restart, or whichever worker the group gives the partition) finds
on the topic in step 1: nothing is lost, nothing doubled. Each record carries its origin
(`candleflow.domain.dead_letters`) in its headers, and the dead letters of ticks
partition p go to dead-letter partition p modulo their count, so step 1 reads one
partition. (Should the dead-letter topic gain partitions between a send and the
reconciliation, a record could be sent twice; nothing else doubles one.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from aiokafka import TopicPartition

from candleflow.core import metrics
from candleflow.core.engine_status import EngineStatus
from candleflow.domain.dead_letters import Headers, Origin, origin_headers, origin_of
from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig
from candleflow.store import dead_letters as store
from candleflow.store.connection import Connection, Lender

log = logging.getLogger(__name__)

#: Rows published per round trip.
CHUNK = 500
#: Look at the outbox this often even when no commit asked (rows another worker left).
IDLE_S = 10.0
#: Look for tried rows on the topic from this long before their last attempt (clock skew).
SLACK_S = 60.0
#: A reconciliation reads the dead-letter partition's tail for at most this long.
READ_TIMEOUT_S = 60.0
MAX_BACKOFF_S = 10.0


class DeadLetterSink(Protocol):
    async def dead_letters(self, records: Sequence[tuple[int, bytes | None, bytes, Headers]]) -> None: ...

    async def dead_partitions(self) -> int: ...


class DeadLetterOutbox:
    """Publishes the outbox of the engine `consumer` reading `topic` (see the module
    docstring). `after_send` is awaited between a send and its delete: a test's way in
    to the moment a crash would hit."""

    def __init__(
        self,
        pool: Lender,
        sink: DeadLetterSink,
        *,
        kafka: KafkaConfig,
        dead_topic: str,
        consumer: str,
        topic: str,
        status: EngineStatus | None = None,
        after_send: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.pool = pool
        self.sink = sink
        self.kafka = kafka
        self.dead_topic = dead_topic
        self.consumer = consumer
        self.topic = topic
        self.status = status if status is not None else EngineStatus()
        self.after_send = after_send
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Publish soon (a batch just committed dead letters, or partitions moved)."""
        self._wake.set()

    async def run(self) -> None:
        """Publish whenever woken (and every `IDLE_S`) until cancelled; failures (broker
        or database down) are retried with backoff, the rows stay in the outbox."""
        delay = 0.5
        failing = False
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_S)
            self._wake.clear()
            try:
                await self.publish()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing:
                    log.warning("dead letters not published (%r); retrying with backoff", exc)
                failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
                self._wake.set()
                continue
            if failing:
                log.info("dead letters published again")
            failing, delay = False, 0.5

    async def publish(self) -> int:
        """Publish every partition's rows that no other worker is publishing; the count sent."""
        partitions = await store.partitions(self.pool, self.consumer, self.topic)
        sent = 0
        for partition in partitions:
            sent += await self.publish_partition(partition)
        pending = await store.count(self.pool, self.consumer, self.topic)
        self.status.dead_letters_pending = pending
        metrics.DEAD_LETTERS_PENDING.set(pending)
        return sent

    async def publish_partition(self, partition: int) -> int:
        """Publish one partition's rows under its lock (0 when another worker holds it)."""
        async with self.pool.connection() as conn:  # the partition's lock is this session's
            if not await store.try_lock(conn, self.consumer, self.topic, partition):
                return 0
            try:
                return await self._publish_locked(conn, partition)
            finally:
                with contextlib.suppress(Exception):
                    await store.unlock(conn, self.consumer, self.topic, partition)

    async def _publish_locked(self, conn: Connection, partition: int) -> int:
        count = await self.sink.dead_partitions()
        if count < 1:
            raise LookupError(f"the dead-letter topic {self.dead_topic} has no partitions (does it exist?)")
        target = partition % count
        sent = 0
        while rows := await store.pending(conn, self.consumer, self.topic, partition, CHUNK):
            tried = [row for row in rows if row.attempts > 0]
            if tried:
                since = min(row.attempted_at or 0.0 for row in tried) - SLACK_S
                found = await self._on_topic(target, partition, {row.offset for row in tried}, since)
                if found:
                    metrics.DEAD_LETTERS_FOUND.inc(len(found))
                    log.info("%d dead letters of %s[%d] found on %s already", len(found), self.topic, partition, target)
                    await store.done(conn, self.consumer, self.topic, partition, sorted(found))
                rows = [row for row in rows if row.offset not in found]
            if not rows:
                continue
            offsets = [row.offset for row in rows]
            await store.attempted(conn, self.consumer, self.topic, partition, offsets, time.time())
            await self.sink.dead_letters(
                [
                    (
                        target,
                        row.key,
                        row.value,
                        origin_headers(Origin(self.topic, partition, row.offset), self.consumer),
                    )
                    for row in rows
                ]
            )
            if self.after_send is not None:
                await self.after_send()
            await store.done(conn, self.consumer, self.topic, partition, offsets)
            metrics.DEAD_LETTERS_PUBLISHED.inc(len(rows))
            sent += len(rows)
        return sent

    async def _on_topic(self, target: int, partition: int, offsets: set[int], since: float) -> set[int]:
        """Which of `offsets` (of ticks `partition`) this engine's dead letters on dead-letter
        partition `target` carry, looking from unix time `since` to the partition's end."""
        tp = TopicPartition(self.dead_topic, target)
        reader = clients.assigned_reader(self.kafka, "dead-letter-check")
        await reader.start()
        found: set[int] = set()
        try:
            reader.assign([tp])
            start = (await reader.offsets_for_times({tp: max(0, int(since * 1000))}))[tp]
            if start is None:
                return found
            end = (await reader.end_offsets([tp]))[tp]
            reader.seek(tp, start.offset)
            deadline = time.monotonic() + READ_TIMEOUT_S
            while await reader.position(tp) < end:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.dead_topic}[{target}] not read to its end in {READ_TIMEOUT_S:.0f} s")
                batch = await reader.getmany(tp, timeout_ms=1000)
                for message in batch.get(tp, []):
                    origin = origin_of(message.headers, self.consumer)
                    if origin is not None and origin[:2] == (self.topic, partition) and origin.offset in offsets:
                        found.add(origin.offset)
        finally:
            await reader.stop()
        return found
