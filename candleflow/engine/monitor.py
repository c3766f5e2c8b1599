"""`EngineMonitor`: looks at the log and the ledger every few seconds and tells the worker's
status whether the engine is stalled (`candleflow.core.stall`).

It reads the end offsets of the partitions the reader holds from the broker with a
consumer of its own (the reader's fetch highwater stops moving when the reader stops
fetching, which is exactly when it matters), and the ledger's next offsets from
PostgreSQL on a connection of its own (never the engine's pool or the web's: a busy
engine or a flood of history reads cannot make it late). Each look that reaches both is a
`Sample`; the assessment of the recent samples goes to `EngineStatus` (which `/healthz`
reads), to `/metrics`, and — when the engine becomes stalled, or a dependency becomes
unreachable — to the log at ERROR, once per episode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from candleflow.core import metrics
from candleflow.core.engine_status import EngineStatus
from candleflow.core.stall import Sample, assess
from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig
from candleflow.store.bars import read_ledger
from candleflow.store.connection import Connection, connect

log = logging.getLogger(__name__)

#: Seconds between two looks.
EVERY_S = 2.0
#: How long one look at the broker or the database may take.
PROBE_TIMEOUT_S = 3.0
DEPENDENCIES = ("kafka", "database")


class EngineMonitor:
    """Samples the partitions `held()` returns for engine `consumer` on `topic`."""

    def __init__(
        self,
        status: EngineStatus,
        held: Callable[[], set[int]],
        *,
        kafka: KafkaConfig,
        database_url: str,
        consumer: str,
        topic: str,
        stall_after: float,
        every: float = EVERY_S,
    ) -> None:
        self.status = status
        self.held = held
        self.kafka = kafka
        self.database_url = database_url
        self.consumer = consumer
        self.topic = topic
        self.stall_after = stall_after
        self.every = every
        #: enough samples to cover the stall window twice
        self.samples: deque[Sample] = deque(maxlen=max(8, int(2 * stall_after / every) + 4))
        self._kafka: AIOKafkaConsumer | None = None
        self._db: Connection | None = None
        self._down: dict[str, str] = {}
        self._looking = asyncio.Lock()

    async def run(self) -> None:
        """Look every `every` seconds until cancelled (a failed look is a report, not an end)."""
        try:
            while True:
                try:
                    await self.look()
                except Exception as exc:  # never expected (each look catches its own failures)
                    log.exception("engine monitor: a look failed: %r", exc)
                await asyncio.sleep(self.every)
        finally:
            await self.close()

    async def look(self) -> None:
        """One sample, its assessment, and their report (one look at a time: the
        connections are the monitor's own)."""
        async with self._looking:
            await self._look()

    async def _look(self) -> None:
        partitions = sorted(self.held())
        at = time.monotonic()
        ends, ledger = await asyncio.gather(self._ends(partitions), self._ledger(partitions))
        if ends is not None and ledger is not None:
            self.samples.append(Sample(at, ends, {p: ledger.get(p, 0) for p in partitions}))
            self.status.sampled_at = at
            self.status.sample_error = None
        else:
            self.status.sample_error = "; ".join(f"{name} unreachable: {error}" for name, error in self._down.items())
        if self.status.sampled_at is None:
            self.status.sampled_at = at  # the state is unknown from now on, until a sample
        self._report(assess(list(self.samples), self.stall_after) if self.samples else None, set(partitions))

    def _report(self, assessment: Any, held: set[int]) -> None:
        if assessment is None:
            return
        was_stalled = self.status.assessment.is_stalled
        self.status.assessment = assessment
        for partition in set(self.status.lag) - held:
            del self.status.lag[partition]
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(str(partition))
        for partition, lag in assessment.lag.items():
            if partition in held:
                self.status.lag[partition] = lag
                metrics.CONSUMER_LAG.labels(str(partition)).set(lag)
        metrics.ENGINE_STALLED.set(1 if assessment.is_stalled else 0)
        metrics.ENGINE_STALLED_SECONDS.set(max(assessment.stalled.values(), default=0.0))
        if assessment.is_stalled and not was_stalled:
            cause = "outage" if self.status.outage else "error" if self.status.last_error else "unknown"
            metrics.ENGINE_STALLS.labels(cause).inc()
            log.error("%s", self.status.stall_reason())
        elif was_stalled and not assessment.is_stalled:
            log.warning("engine moving again: lag %d", assessment.total)

    async def _ends(self, partitions: list[int]) -> dict[int, int] | None:
        try:
            if self._kafka is None:
                consumer = clients.assigned_reader(self.kafka, "engine-monitor", request_timeout_s=PROBE_TIMEOUT_S)
                await asyncio.wait_for(consumer.start(), PROBE_TIMEOUT_S)
                self._kafka = consumer
            tps = [TopicPartition(self.topic, p) for p in partitions]
            ends = await asyncio.wait_for(self._kafka.end_offsets(tps), PROBE_TIMEOUT_S) if tps else {}
        except Exception as exc:  # any failure: the broker is unreachable from here, for now
            await self._close_kafka()
            self._dependency("kafka", exc)
            return None
        self._dependency("kafka", None)
        return {tp.partition: int(offset) for tp, offset in ends.items()}

    async def _ledger(self, partitions: list[int]) -> dict[int, int] | None:
        try:
            if self._db is None or self._db.is_closed():
                self._db = await connect(self.database_url, connect_timeout=PROBE_TIMEOUT_S)
            db = self._db
            ledger = await asyncio.wait_for(read_ledger(db, self.consumer, self.topic, partitions), PROBE_TIMEOUT_S)
        except Exception as exc:  # any failure: the database is unreachable from here, for now
            await self._close_db()
            self._dependency("database", exc)
            return None
        self._dependency("database", None)
        return ledger

    def _dependency(self, name: str, error: BaseException | None) -> None:
        if error is None:
            if self._down.pop(name, None) is not None:
                log.warning("engine monitor reaches %s again", name)
            metrics.DEPENDENCY_UP.labels(name).set(1)
            return
        text = f"{type(error).__name__}: {error}"[:300]
        if name not in self._down:
            log.error("engine monitor cannot reach %s: %s", name, text)
        self._down[name] = text
        metrics.DEPENDENCY_UP.labels(name).set(0)

    async def _close_kafka(self) -> None:
        consumer, self._kafka = self._kafka, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), PROBE_TIMEOUT_S)

    async def _close_db(self) -> None:
        conn, self._db = self._db, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), PROBE_TIMEOUT_S)
            if not conn.is_closed():
                conn.terminate()

    async def close(self) -> None:
        await self._close_kafka()
        await self._close_db()
