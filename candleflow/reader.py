"""The engine's bulk reader: `ticks.raw` in large batches, positioned by the ledger.

A Faust agent receives one event at a time; on this machine Faust delivers about
10,000-15,000 events/s to an agent that does nothing at all (see the README's
Performance section), which caps the engine far below its own speed. In `bulk` mode
(`CANDLEFLOW_ENGINE_READER=bulk`) every worker instead runs this reader as a Faust task:
a plain aiokafka consumer in the consumer group `{app_id}.engine` that fetches
thousands of records per call.

Correctness needs nothing from Kafka's committed offsets: whenever partitions are
assigned, the reader seeks each one to the `next_offset` the database's ledger holds,
and the engine's transaction skips anything below it. Offsets are still committed to
Kafka after each batch, for lag tools only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from candleflow.engine import Prepared, Record
from candleflow.settings import Settings

log = logging.getLogger(__name__)

LedgerLookup = Callable[[Sequence[int]], Awaitable[dict[int, int]]]
Prepare = Callable[[Sequence[Record]], Prepared]
Handle = Callable[[Prepared], Awaitable[Any]]


class _SeekToLedger(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, reader: BulkReader) -> None:
        self.reader = reader

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.reader.assigned.difference_update(tp.partition for tp in revoked)

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        try:
            await self.reader.seek_to_ledger(assigned)
        except Exception as exc:
            # Safe to go on: Kafka's committed offsets never pass the ledger (they are
            # committed only after the batch's transaction), so the consumer starts at or
            # before the ledger and the engine skips what it absorbed already.
            log.warning("could not read the ledger (%s); starting from committed offsets", exc)


class BulkReader:
    def __init__(self, settings: Settings, ledger: LedgerLookup, prepare: Prepare, handle: Handle) -> None:
        self.settings = settings
        self.ledger = ledger
        self.prepare = prepare
        self.handle = handle
        self.assigned: set[int] = set()
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=f"{settings.app_id}.engine",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1_048_576,
            fetch_max_bytes=32 * 1_048_576,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
        )

    async def seek_to_ledger(self, assigned: Sequence[TopicPartition]) -> None:
        positions = await self.ledger([tp.partition for tp in assigned])
        for tp in assigned:
            self.consumer.seek(tp, positions.get(tp.partition, 0))
        self.assigned.update(tp.partition for tp in assigned)
        log.info("engine reader assigned partitions %s at ledger offsets %s", sorted(self.assigned), positions)

    async def run(self) -> None:
        """Fetch, prepare and commit batches, preparing the next batch (CPU) while the
        previous one's transaction waits on the database."""
        await self.consumer.start()
        self.consumer.subscribe([self.settings.ticks_topic], listener=_SeekToLedger(self))
        inflight: asyncio.Task[None] | None = None
        try:
            while True:
                records = await self._next_batch()
                if not records:
                    continue
                prepared = self.prepare(records)
                if inflight is not None:
                    await inflight
                inflight = asyncio.ensure_future(self._commit_batch(prepared, records))
        finally:
            if inflight is not None:
                inflight.cancel()
            await self.consumer.stop()

    async def _commit_batch(self, prepared: Prepared, records: Sequence[Record]) -> None:
        await self.handle(prepared)
        await self._commit(records)

    async def _next_batch(self) -> list[Record]:
        """Up to `batch_max` records, waiting at most `batch_within` seconds to fill up."""
        deadline = time.monotonic() + self.settings.batch_within
        records: list[Record] = []
        while len(records) < self.settings.batch_max:
            remaining = deadline - time.monotonic()
            if remaining <= 0 and records:
                break
            fetched = await self.consumer.getmany(
                timeout_ms=max(1, int(remaining * 1000)), max_records=self.settings.batch_max - len(records)
            )
            for tp, messages in fetched.items():
                records.extend(Record(tp.partition, m.offset, m.key, m.value, m.timestamp) for m in messages)
            if not fetched and remaining <= 0:
                break
        return records

    async def _commit(self, records: Sequence[Record]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(self.settings.ticks_topic, record.partition)
            if record.offset + 1 > offsets.get(tp, -1):
                offsets[tp] = record.offset + 1
        try:
            await self.consumer.commit(offsets)
        except Exception as exc:  # informational only: the ledger is the truth
            log.debug("offset commit for lag tools failed: %s", exc)

    def highwater(self, partition: int) -> int | None:
        return self.consumer.highwater(TopicPartition(self.settings.ticks_topic, partition))  # type: ignore[no-any-return]
