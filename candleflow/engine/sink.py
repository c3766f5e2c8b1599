"""The engine's Kafka output: dead letters and bar updates, on a plain aiokafka producer.

Faust's `topic.send` costs a coroutine and a future per message; the engine sends a
whole batch at once, so it drives an aiokafka producer (`candleflow.kafka.clients`) directly.

Dead letters are awaited (the outbox, `candleflow.engine.outbox`, marks them sent only
once the broker acknowledged them), each to the partition the outbox names. Bar updates are
handed to the producer and their acknowledgements awaited in the background, so the
next batch never waits for the broker; one producer keeps them in order per series,
and `close` flushes what is still in flight. `linger_ms=0`: an update goes out at
once, and batches still grow while a request is in flight.

Bar updates also go, first and in memory, to `local` (the worker sets it to its own SSE
hub): the charts of this process skip the round trip through Kafka, the largest stage
of their latency after the commit. Each record carries this sink's `origin`
(`candleflow.domain.updates.ORIGIN_HEADER`) so that this hub skips the Kafka copy;
every other process's hub gets it from Kafka as before.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaProducer

from candleflow.core.settings import Settings
from candleflow.domain.dead_letters import Headers
from candleflow.domain.updates import ORIGIN_HEADER, BarUpdate, encode
from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig

log = logging.getLogger(__name__)


class KafkaSink:
    def __init__(self, settings: Settings, kafka: KafkaConfig, origin: str | None = None) -> None:
        self.settings = settings
        self.kafka = kafka
        #: This process's id on its bar updates (see the module docstring).
        self.origin = origin or uuid.uuid4().hex
        self._headers = [(ORIGIN_HEADER, self.origin.encode())]
        #: Where bar updates go in memory before Kafka (the worker's hub), if anywhere.
        self.local: Callable[[Sequence[BarUpdate]], None] | None = None
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._acks: set[asyncio.Future[None]] = set()

    async def producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = clients.producer(self.kafka, "engine-sink", linger_ms=0, max_batch_size=1_048_576)
                await producer.start()
                self._producer = producer
            return self._producer

    async def dead_letters(self, records: Sequence[tuple[int, bytes | None, bytes, Headers]]) -> None:
        """Send `(partition, key, value, headers)` to the dead-letter topic and wait for
        every acknowledgement (raises if any is refused)."""
        if not records:
            return
        producer = await self.producer()
        topic = self.settings.dead_topic
        futures = [
            await producer.send(topic, value=value, key=key, partition=partition, headers=headers)
            for partition, key, value, headers in records
        ]
        await asyncio.gather(*futures)

    async def dead_partitions(self) -> int:
        """How many partitions the dead-letter topic has."""
        producer = await self.producer()
        return len(await producer.partitions_for(self.settings.dead_topic))

    async def bar_updates(self, updates: Sequence[BarUpdate]) -> None:
        if not updates:
            return
        if self.local is not None:
            self.local(updates)
        producer = await self.producer()
        topic, headers = self.settings.updates_topic, self._headers
        futures = []
        for update in updates:
            key, value = encode(update)
            futures.append(await producer.send(topic, value=value, key=key, headers=headers))
        acks: asyncio.Future[None] = asyncio.ensure_future(_acknowledged(futures))
        self._acks.add(acks)
        acks.add_done_callback(self._acks.discard)

    async def close(self) -> None:
        if self._acks:
            await asyncio.wait(self._acks, timeout=10)
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


async def _acknowledged(futures: Sequence[asyncio.Future[object]]) -> None:
    try:
        await asyncio.gather(*futures)
    except Exception as exc:  # committed bars; clients catch up (see candleflow.engine.bar_engine)
        log.warning("bar updates of a committed batch not published: %s", exc)
