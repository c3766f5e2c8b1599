"""The one producer path of every source: valid ticks to `ticks.raw`, the rest to `ticks.dead`.

`TickPublisher` wraps an aiokafka producer (`candleflow.kafka.clients`) tuned for throughput: records are
appended to per-partition batches (`create_batch` / `send_batch`, partitioned exactly
like the producer's default partitioner, so keys land where any other client puts
them), a batch goes out when it is full or has lingered a few milliseconds, delivery is
acknowledged per batch and settled in bulk, never awaited per tick, and `flush()`
waits for every outstanding record. Valid ticks are keyed by symbol so one
partition orders each symbol; dead letters carry the raw input and the reason
(`candleflow.domain.ticks.dead_letter`). Both are counted in `candleflow.core.metrics` and in
`counts`. `start()` makes sure both topics exist (`candleflow.kafka.topics`), since
brokers may refuse to create topics on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from candleflow.core.metrics import TICKS_ACCEPTED, TICKS_REJECTED
from candleflow.core.settings import Settings
from candleflow.core.tasks import cancel_and_wait
from candleflow.domain.dead_letters import dead_letter
from candleflow.domain.ticks import Tick
from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.topics import DEAD_PARTITIONS, Topic, ensure_topics
from candleflow.sources.exceptions import BrokerUnavailable, PublishError

log = logging.getLogger(__name__)


class TickSink(Protocol):
    """Where a source puts what it reads: a valid tick, or raw input with a reason."""

    async def publish(self, tick: Tick) -> None: ...

    async def reject(self, raw: bytes | str, reason: str) -> None: ...


@dataclass(frozen=True, slots=True)
class PublishCounts:
    published: int
    dead: int
    failed: int
    first_error: str | None = None


class TickPublisher:
    """Publishes ticks and dead letters of one source through one aiokafka producer."""

    def __init__(
        self,
        kafka: KafkaConfig,
        *,
        source: str,
        ticks_topic: str = "ticks.raw",
        dead_topic: str = "ticks.dead",
        partitions: int = 8,
        compression: str | None = None,
        linger_ms: int = 10,
        max_batch_size: int = 512 * 1024,
        max_in_flight: int = 64,
        create_topics: bool = True,
    ) -> None:
        self.source = source
        self.ticks_topic = ticks_topic
        self.dead_topic = dead_topic
        self._kafka = kafka
        self._partitions = partitions
        self._create_topics = create_topics
        self._producer = clients.producer(
            kafka, source, linger_ms=linger_ms, max_batch_size=max_batch_size, compression_type=compression
        )
        self._linger_s = linger_ms / 1000
        self._max_in_flight = max_in_flight
        self._clock = time.monotonic
        self._partitioner = DefaultPartitioner()
        self._ticks_partitions: list[int] = []
        self._key_partitions: dict[bytes, int] = {}
        self._dead_partition = 0
        self._open: dict[tuple[str, int], _OpenBatch] = {}
        self._in_flight: deque[tuple[bool, int, asyncio.Future[Any]]] = deque()
        self._send_lock = asyncio.Lock()
        self._linger_task: asyncio.Task[None] | None = None
        self._published = 0
        self._dead = 0
        self._failed = 0
        self._first_error: str | None = None
        self._accepted_metric = TICKS_ACCEPTED.labels(source=source)
        self._rejected_metric = TICKS_REJECTED.labels(source=source)
        self._started = False

    @classmethod
    def from_settings(
        cls, settings: Settings, *, source: str, kafka: KafkaConfig | None = None, **options: Any
    ) -> TickPublisher:
        return cls(
            kafka or KafkaConfig.from_settings(settings),
            source=source,
            ticks_topic=settings.ticks_topic,
            dead_topic=settings.dead_topic,
            partitions=settings.ticks_partitions,
            **options,
        )

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Create missing topics, connect the producer and learn the partitions."""
        try:
            await self._start()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            if not isinstance(exc, KafkaError):
                raise
            raise BrokerUnavailable(
                f"cannot reach Kafka at {self._kafka.bootstrap} ({type(exc).__name__}: {exc}): start the "
                "local stack (candleflow stack up) or set CANDLEFLOW_KAFKA_BOOTSTRAP"
            ) from None

    async def _start(self) -> None:
        if self._create_topics:
            topics = [Topic(self.ticks_topic, self._partitions), Topic(self.dead_topic, DEAD_PARTITIONS)]
            await ensure_topics(self._kafka, topics)
        await self._producer.start()
        self._ticks_partitions = sorted(await self._producer.partitions_for(self.ticks_topic))
        dead_partitions = sorted(await self._producer.partitions_for(self.dead_topic))
        if not self._ticks_partitions or not dead_partitions:
            raise PublishError(
                f"Kafka reports no partitions for {self.ticks_topic!r} or {self.dead_topic!r}: "
                "create the topics (candleflow creates them when it may) and retry"
            )
        self._dead_partition = dead_partitions[0]
        self._started = True
        self._linger_task = asyncio.create_task(self._linger(), name=f"linger-{self.source}")

    async def close(self) -> None:
        """Flush what is outstanding, then stop the producer (safe to call twice)."""
        if not self._started:
            return
        try:
            await cancel_and_wait(self._linger_task)
            await self.flush()
        finally:
            self._started = False
            await self._producer.stop()

    async def __aenter__(self) -> TickPublisher:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ sending

    async def publish(self, tick: Tick) -> None:
        """Hand one valid tick to the producer (key = symbol); do not wait for its ack."""
        key = tick.symbol.encode()
        await self._append(self.ticks_topic, self._partition_of(key), key, tick.to_json())

    async def reject(self, raw: bytes | str, reason: str) -> None:
        """Send raw input with the reason to the dead-letter topic."""
        value = dead_letter(raw, reason, self.source)
        await self._append(self.dead_topic, self._dead_partition, None, value)

    def _partition_of(self, key: bytes) -> int:
        partition = self._key_partitions.get(key)
        if partition is None:
            partition = self._partitioner(key, self._ticks_partitions, self._ticks_partitions)
            self._key_partitions[key] = partition
        return partition

    async def _append(self, topic: str, partition: int, key: bytes | None, value: bytes) -> None:
        if not self._started:
            raise PublishError("TickPublisher.start() must run before publishing")
        slot = (topic, partition)
        open_batch = self._open.get(slot)
        if open_batch is None:
            open_batch = self._open[slot] = _OpenBatch(self._producer.create_batch(), self._clock())
        if open_batch.builder.append(key=key, value=value, timestamp=None) is not None:
            open_batch.count += 1
            return
        # Full: send it and start the next one with this record.
        del self._open[slot]
        await self._send(slot, open_batch)
        builder = self._producer.create_batch()
        if builder.append(key=key, value=value, timestamp=None) is None:
            raise PublishError(f"a record of {len(value)} bytes exceeds the producer's batch size")
        self._open[slot] = _OpenBatch(builder, self._clock(), 1)

    async def _send(self, slot: tuple[str, int], batch: _OpenBatch) -> None:
        topic, partition = slot
        # One sender at a time, first come first served: batches of a partition keep
        # the order in which they were filled.
        async with self._send_lock:
            future = await self._producer.send_batch(batch.builder, topic, partition=partition)
        self._in_flight.append((topic == self.ticks_topic, batch.count, future))
        while self._in_flight and self._in_flight[0][2].done():
            self._settle(*self._in_flight.popleft())
        while len(self._in_flight) > self._max_in_flight:
            accepted, count, oldest = self._in_flight.popleft()
            await asyncio.wait([oldest])
            self._settle(accepted, count, oldest)

    def _settle(self, accepted: bool, count: int, future: asyncio.Future[Any]) -> None:
        error = future.exception()
        if error is not None:
            self._failed += count
            if self._first_error is None:
                self._first_error = f"{type(error).__name__}: {error}"
        elif accepted:
            self._published += count
            self._accepted_metric.inc(count)
        else:
            self._dead += count
            self._rejected_metric.inc(count)

    async def _send_open(self, older_than: float | None = None) -> None:
        now = self._clock()
        for slot, batch in list(self._open.items()):
            due = older_than is None or now - batch.opened >= older_than
            if due and self._open.get(slot) is batch:
                del self._open[slot]
                await self._send(slot, batch)

    async def _linger(self) -> None:
        """Send batches that waited `linger` seconds: low-rate sources must not stall."""
        while True:
            await asyncio.sleep(self._linger_s)
            await self._send_open(older_than=self._linger_s)

    async def flush(self) -> PublishCounts:
        """Wait until every record handed over so far is acknowledged (or failed)."""
        await self._send_open()
        while self._in_flight:
            accepted, count, future = self._in_flight.popleft()
            await asyncio.wait([future])
            self._settle(accepted, count, future)
        return self.counts

    @property
    def counts(self) -> PublishCounts:
        """Acknowledged ticks and dead letters so far, and records the broker refused."""
        return PublishCounts(self._published, self._dead, self._failed, self._first_error)

    @property
    def pending(self) -> int:
        """Records handed over but not yet acknowledged."""
        return sum(b.count for b in self._open.values()) + sum(c for _, c, _ in self._in_flight)


@dataclass(slots=True)
class _OpenBatch:
    builder: Any
    opened: float
    count: int = 0
