"""The engine's reader: `ticks.raw` in natural batches, positioned by the ledger.

Every worker runs one aiokafka consumer in the consumer group `{app_id}.engine`
(`candleflow.kafka.clients.group_consumer`).
Whenever partitions are assigned, it seeks each one to the `next_offset` the
database's ledger holds; the engine's transaction skips anything below it. So
correctness needs nothing from Kafka's committed offsets (they are still committed in
the background, for lag tools only, at most every `OFFSETS_EVERY_S`: a commit per batch
was a hundred requests a second to the group coordinator under load) and nothing from Faust's
`exactly_once`: a rebalance at any moment, also in the middle of a batch or of its
commit, at worst delivers records again, and the ledger makes that harmless.

Batches form by group commit (`candleflow.engine.batching.Gathering`): one batch's transaction
runs while the next gathers and is prepared, and the next closes as soon as nothing
more is buffered and the previous commit is done, so a quiet stream commits each tick
at once and a busy one grows its batches up to `CANDLEFLOW_BATCH_MAX`.

A Faust agent was the other reader once. Faust delivers one event at a time through its
conductor and stream machinery, far below the engine's own speed (`bench/bench_engine.py`
measures the engine beside a bare consumer; the README's engine section has the agent's
figure), and two readers would each need the whole crash and rebalance suite.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from candleflow.core.settings import Settings
from candleflow.engine.batching import Gathering
from candleflow.engine.prepare import Prepared
from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.log_reader import LogRecord

log = logging.getLogger(__name__)

LedgerLookup = Callable[[Sequence[int]], Awaitable[dict[int, int]]]
Prepare = Callable[[Sequence[LogRecord]], Prepared]
Handle = Callable[[Prepared], Awaitable[Any]]
#: Called with the partitions a rebalance revoked, then with the ones it assigned.
Rebalanced = Callable[[frozenset[int]], Awaitable[None]]

#: How long one Kafka offset commit (informational only, in the background) may take.
COMMIT_TIMEOUT_S = 5.0
#: Seconds between two commits of offsets for lag tools (what piles up goes in the next).
OFFSETS_EVERY_S = 1.0
#: Pause after the consumer itself failed (e.g. the broker is down), before fetching again.
FETCH_RETRY_S = 1.0


async def _nothing(_: frozenset[int]) -> None:
    return None


class _SeekToLedger(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, reader: TickReader) -> None:
        self.reader = reader

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        partitions = frozenset(tp.partition for tp in revoked)
        if partitions:
            log.info("engine reader: partitions revoked %s", sorted(partitions))
        self.reader.assigned.difference_update(partitions)
        await self.reader.revoked(partitions)

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        try:
            await self.reader.seek_to_ledger(assigned)
        except Exception as exc:
            # Safe to go on: Kafka's committed offsets never pass the ledger (they are
            # committed only after the batch's transaction), so the consumer starts at or
            # before the ledger and the engine skips what it absorbed already.
            log.warning("could not read the ledger (%s); starting from committed offsets", exc)
        self.reader.assigned.update(tp.partition for tp in assigned)
        await self.reader.assigned_now(frozenset(tp.partition for tp in assigned))


class TickReader:
    """Reads the ticks topic for one worker and hands each prepared batch to `handle`.

    `ledger` looks up the next offsets the database expects, `prepare` is the engine's
    CPU half, `handle` commits a prepared batch (it must retry until the database takes
    it). `revoked` and `assigned_now` hear about every rebalance. `kafka` is the worker's
    one client configuration.
    """

    def __init__(
        self,
        settings: Settings,
        ledger: LedgerLookup,
        prepare: Prepare,
        handle: Handle,
        *,
        revoked: Rebalanced = _nothing,
        assigned_now: Rebalanced = _nothing,
        settled: Callable[[], Awaitable[None]] | None = None,
        beat: Callable[[], None] | None = None,
        kafka: KafkaConfig,
    ) -> None:
        self.settings = settings
        self.topic = settings.ticks_topic
        self.ledger = ledger
        self.prepare = prepare
        self.handle = handle
        self.revoked = revoked
        self.assigned_now = assigned_now
        #: Awaited after each commit, before the next batch may close (see `_commit_batch`).
        self.settled = settled
        #: Called every time round the gathering loop (liveness: `EngineStatus.beat`).
        self.beat = beat
        #: The partitions this reader holds now (empty during a rebalance).
        self.assigned: set[int] = set()
        #: Kafka offsets of committed batches not yet committed to Kafka, and that commit.
        self._offsets: dict[TopicPartition, int] = {}
        self._committing: asyncio.Future[None] | None = None
        self.consumer = clients.group_consumer(
            kafka,
            "engine",
            f"{settings.app_id}.engine",
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1_048_576,
            fetch_max_bytes=32 * 1_048_576,
        )

    async def seek_to_ledger(self, assigned: Sequence[TopicPartition]) -> None:
        positions = await self.ledger([tp.partition for tp in assigned])
        for tp in assigned:
            self.consumer.seek(tp, positions.get(tp.partition, 0))
        log.info(
            "engine reader assigned partitions %s at ledger offsets %s",
            sorted(tp.partition for tp in assigned),
            positions,
        )

    async def run(self) -> None:
        """Gather, prepare and commit batches until cancelled; one commit in flight at a
        time (the ledger needs a partition's batches in order)."""
        await self.consumer.start()
        self.consumer.subscribe([self.topic], listener=_SeekToLedger(self))
        inflight: asyncio.Task[None] | None = None
        try:
            while True:
                records = await self._gather(inflight)
                prepared = self.prepare(records)
                if inflight is not None:
                    await inflight
                inflight = asyncio.ensure_future(self._commit_batch(prepared))
        finally:
            for task in (inflight, self._committing):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            await self.consumer.stop()

    async def _gather(self, inflight: asyncio.Task[None] | None) -> list[LogRecord]:
        gathering = Gathering(self.settings.batch_max, self.settings.batch_within)
        while not gathering.closed(previous_done := inflight is None or inflight.done()):
            if self.beat is not None:
                self.beat()
            try:
                fetched = await self._fetch(gathering.wait_ms(previous_done), gathering.room, inflight)
            except KafkaError as exc:
                log.warning("engine reader: fetching failed (%r); retrying in %.0f s", exc, FETCH_RETRY_S)
                await asyncio.sleep(FETCH_RETRY_S)
                continue
            gathering.add([m for ms in fetched.values() for m in ms], previous_done)
        return gathering.records

    async def _fetch(self, wait_ms: int, room: int, inflight: asyncio.Task[None] | None) -> dict[TopicPartition, Any]:
        """One fetch of at most `room` records, waiting at most `wait_ms` for the first; it
        ends early, empty, when the previous commit (`inflight`) ends first, so the batch
        closes the moment it may instead of at the next poll. A fetch cancelled while it
        waits has taken nothing from the consumer's buffer: no record is lost."""
        fetched: dict[TopicPartition, Any]
        if inflight is None or inflight.done() or wait_ms == 0:
            fetched = await self.consumer.getmany(timeout_ms=wait_ms, max_records=room)
            return fetched
        fetch = asyncio.ensure_future(self.consumer.getmany(timeout_ms=wait_ms, max_records=room))
        try:
            await asyncio.wait((fetch, inflight), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not fetch.done():
                fetch.cancel()
                await asyncio.wait((fetch,))
        fetched = {} if fetch.cancelled() else fetch.result()
        return fetched

    async def _commit_batch(self, prepared: Prepared) -> None:
        await self.handle(prepared)
        self._commit_offsets(prepared.ends)
        if self.settled is not None:
            # the worker's SSE fan-out of this commit first: the next batch gathers
            # meanwhile, and its commit then runs without a round between its round trips
            await self.settled()

    def _commit_offsets(self, ends: dict[int, int]) -> None:
        """Commit the batch's Kafka offsets (for lag tools only: the ledger is the truth)
        in the background, off the batch path: the next batch never waits for the
        group coordinator. One commit at a time, at most every `OFFSETS_EVERY_S`; what piles
        up meanwhile goes in the next."""
        for partition, end in ends.items():
            tp = TopicPartition(self.topic, partition)
            if end > self._offsets.get(tp, -1):
                self._offsets[tp] = end
        if self._offsets and (self._committing is None or self._committing.done()):
            self._committing = asyncio.ensure_future(self._commit())

    async def _commit(self) -> None:
        while self._offsets:
            offsets, self._offsets = self._offsets, {}
            held = {tp: offset for tp, offset in offsets.items() if tp.partition in self.assigned}
            if not held:
                continue
            try:
                await asyncio.wait_for(self.consumer.commit(held), COMMIT_TIMEOUT_S)
            except (KafkaError, TimeoutError) as exc:  # informational only: the ledger is the truth
                log.debug("offset commit for lag tools failed: %r", exc)
            await asyncio.sleep(OFFSETS_EVERY_S)

    def highwater(self, partition: int) -> int | None:
        """The partition's end offset as the last fetch saw it; None when this reader does
        not hold the partition now (a rebalance may take it at any moment) or has not
        fetched from it yet."""
        tp = TopicPartition(self.topic, partition)
        if tp not in self.consumer.assignment():
            return None
        value = self.consumer.highwater(tp)
        return None if value is None else int(value)
