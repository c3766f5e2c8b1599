"""Reading `ticks.raw` outside the engine: bulk reads of offset ranges with a bare
consumer outside any group (`candleflow.kafka.clients.assigned_reader`). `db verify` and
`candleflow replay` both read the log through `LogReader`; `Record` is one message as
the engine receives it.

No consumer group (nothing to join, nothing committed): partitions are assigned
directly, each is positioned with `seek`, and `getmany` hands out large batches
(`max_records`) from fetches of several MB per partition. A partition stops at the end
of its span: records at or past it are dropped and the partition is paused.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import NamedTuple, Protocol

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.exceptions import LogUnavailable
from candleflow.kafka.topics import topic_partitions

#: Give up when the broker hands out nothing for this long while records remain.
STALL_S = 60.0
#: `(partition, [(offset, value), ...])` of one fetched batch.
BatchSink = Callable[[int, list[tuple[int, bytes]]], None]
#: Called after each batch with the number of records read so far.
OnProgress = Callable[[int], None]


class LogRecord(Protocol):
    """What the engine reads of a message: `Record`, or aiokafka's own `ConsumerRecord`,
    which the engine's reader hands on as it is (a copy per tick is a measurable cost)."""

    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def timestamp(self) -> int: ...


class Record(NamedTuple):
    """One message of the ticks topic; `timestamp` is its Kafka timestamp in ms (0: unknown)."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: int = 0


@dataclass(frozen=True, slots=True)
class Span:
    """Offsets `[start, end)` of one partition."""

    start: int
    end: int

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)


class LogReader:
    """`async with LogReader(config, topic) as reader:` then `bounds`, `read`, ..."""

    def __init__(
        self,
        config: KafkaConfig,
        topic: str,
        *,
        max_records: int = 5_000,
        partition_fetch_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self.config = config
        self.topic = topic
        self.max_records = max_records
        self.consumer = clients.assigned_reader(
            config,
            "log-reader",
            max_partition_fetch_bytes=partition_fetch_bytes,
            fetch_max_bytes=max(52_428_800, 4 * partition_fetch_bytes),
        )
        self.partitions: list[int] = []

    async def __aenter__(self) -> LogReader:
        try:
            await self.consumer.start()
            self.partitions = await topic_partitions(self.config, self.topic)
        except KafkaError as exc:
            await self.consumer.stop()
            raise LogUnavailable(
                f"cannot reach Kafka at {self.config.bootstrap} ({type(exc).__name__}: {exc}): start it "
                '(eval "$(candleflow stack up)") or set CANDLEFLOW_KAFKA_BOOTSTRAP'
            ) from exc
        except BaseException:
            await self.consumer.stop()
            raise
        assigned = [self._tp(p) for p in self.partitions]
        self.consumer.assign(assigned)
        # Paused until `read`: a partition fetching meanwhile holds the broker connection in a
        # long poll (`fetch_max_wait_ms`), which every offsets request then waits behind.
        self.consumer.pause(*assigned)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.consumer.stop()

    def _tp(self, partition: int) -> TopicPartition:
        return TopicPartition(self.topic, partition)

    async def bounds(self) -> tuple[dict[int, int], dict[int, int]]:
        """(first offset kept, end offset) of every partition now."""
        tps = [self._tp(p) for p in self.partitions]
        begins = await self.consumer.beginning_offsets(tps)
        ends = await self.consumer.end_offsets(tps)
        return {tp.partition: begins[tp] for tp in tps}, {tp.partition: ends[tp] for tp in tps}

    async def offsets_at(self, ms: int) -> dict[int, int | None]:
        """Per partition, the first offset appended at or after `ms` (None: none is)."""
        tps = [self._tp(p) for p in self.partitions]
        found = await self.consumer.offsets_for_times({tp: ms for tp in tps})
        return {tp.partition: (None if found[tp] is None else found[tp].offset) for tp in tps}

    async def read(self, spans: Mapping[int, Span], sink: BatchSink, on_progress: OnProgress | None = None) -> int:
        """Hand every record of `spans` to `sink`, batch by batch; returns the count."""
        consumer = self.consumer
        todo = {self._tp(p): span for p, span in spans.items() if span.size > 0}
        everything = [self._tp(p) for p in self.partitions]
        consumer.pause(*everything)
        for tp, span in todo.items():
            consumer.seek(tp, span.start)
        consumer.resume(*todo)
        done = 0
        last_batch = time.monotonic()
        collecting = gc.isenabled()
        # The loop creates millions of short-lived tuples and dicts, all freed by reference
        # counting; the cyclic collector would only walk the growing dict of bars
        # (`bench/bench_replay.py` measures the read).
        gc.disable()
        try:
            while todo:
                batch = await consumer.getmany(*todo, timeout_ms=500, max_records=self.max_records)
                for tp, messages in batch.items():
                    if tp not in todo:
                        continue
                    end = todo[tp].end
                    if messages[-1].offset < end:
                        kept = [(m.offset, m.value) for m in messages]
                    else:
                        kept = [(m.offset, m.value) for m in messages if m.offset < end]
                    if kept:
                        sink(tp.partition, kept)
                        done += len(kept)
                    if messages[-1].offset + 1 >= end:
                        del todo[tp]
                        consumer.pause(tp)
                if batch:
                    last_batch = time.monotonic()
                    if on_progress is not None:
                        on_progress(done)
                    continue
                for tp in list(todo):  # gaps at the end of a span (compaction, transaction markers)
                    if await consumer.position(tp) >= todo[tp].end:
                        del todo[tp]
                        consumer.pause(tp)
                if todo and time.monotonic() - last_batch > STALL_S:
                    raise LogUnavailable(
                        f"{self.topic}: no records for {STALL_S:.0f} s with {len(todo)} partitions unfinished "
                        "(broker overloaded, partitions offline, or records deleted by retention meanwhile?): "
                        "try again"
                    )
        finally:
            if collecting:
                gc.enable()
            consumer.pause(*everything)
        return done
