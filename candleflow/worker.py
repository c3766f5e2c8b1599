"""`Worker`: what one `candleflow worker` process runs beside Faust's web server.

A worker owns, for its whole life, the database pool, the Kafka sink of the engine's
output, the `BarEngine`, the `TickReader`, the engine status `/healthz` reports, the SSE
hub of its web server and the leader-only feed. `Worker.open` connects (waiting for the
database) and builds it; the constructor takes the pool and the sink ready-made, which
is the seam for tests that run a worker in-process against the real stack. The web
views reach the status and the hub through `candleflow.web.runtime`.

The feed (`CANDLEFLOW_SOURCE`) runs on the worker that holds partition 0 of the ticks
topic: exactly one member of the engine's consumer group holds it, the group moves it
when a worker dies or joins, and the feed follows it. It stops as soon as a rebalance
revokes the partition, before the group hands it to another worker, so two feeds never
overlap; the new leader's feed seeds its duplicate filter from the log's tail
(`candleflow.sources.log_tail`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from candleflow.core import metrics
from candleflow.core.engine_status import EngineStatus
from candleflow.core.feed_status import FeedStatus
from candleflow.core.settings import Settings
from candleflow.domain.updates import BarUpdate, Key
from candleflow.engine.bar_engine import BarEngine, BatchResult, EngineRunner
from candleflow.engine.prepare import Prepared
from candleflow.engine.reader import TickReader
from candleflow.engine.sink import KafkaSink
from candleflow.sources.publisher import ensure_topics
from candleflow.store.bars import read_ledger
from candleflow.store.migrate import migrate
from candleflow.web.hub import Hub, current_bars

log = logging.getLogger(__name__)

LAG_INTERVAL_S = 5.0
#: The partition whose holder runs the feed.
LEADER_PARTITION = 0
FEED_STOP_TIMEOUT_S = 10.0


class Feed:
    """The worker's own source, started and stopped as leadership moves.

    A feed that ends on its own while we lead (e.g. CryptoCompare refused the API key)
    is not restarted: its error says what to fix.
    """

    def __init__(self, settings: Settings, status: FeedStatus | None = None) -> None:
        self.settings = settings
        self.status = status if status is not None else FeedStatus(down_after=settings.feed_down_after)
        self.task: asyncio.Task[None] | None = None
        self.stop = asyncio.Event()

    @property
    def leading(self) -> bool:
        return self.task is not None

    async def follow(self, leader: bool) -> None:
        if self.settings.source == "none" or leader == self.leading:
            return
        if leader:
            from candleflow.sources.runner import run_source

            log.info("this worker leads the group: starting the %s feed", self.settings.source)
            self.stop = asyncio.Event()
            self.task = asyncio.ensure_future(run_source(self.settings, self.stop, self.status))
            self.task.add_done_callback(self._ended)
        else:
            log.info("this worker no longer leads the group: stopping the %s feed", self.settings.source)
            task, self.task = self.task, None
            assert task is not None
            self.stop.set()
            await asyncio.wait({task}, timeout=FEED_STOP_TIMEOUT_S)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("the %s feed stopped: %s", self.settings.source, task.exception())


class Worker:
    def __init__(
        self,
        settings: Settings,
        pool: Any,
        sink: KafkaSink,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.sink = sink
        self.status = EngineStatus()
        #: The live bars of this worker's web server: started by the first stream, stopped on close.
        self.hub = Hub(
            settings.kafka_bootstrap,
            settings.updates_topic,
            settings.sse_queue,
            reread=self._current,
            origin=sink.origin,
        )
        sink.local = self.hub.receive_all  # this process's charts get its commits in memory
        self.engine = BarEngine(settings, pool, sink, status=self.status)
        self.runner = EngineRunner(self.engine)
        self.feed = Feed(settings)
        self.reader = TickReader(
            settings,
            self._ledger,
            self.engine.prepare,
            self._handle,
            revoked=self._revoked,
            assigned_now=self._assigned,
            settled=self.hub.settled,
        )

    @classmethod
    async def open(cls, settings: Settings) -> Worker:
        """Make sure the topics exist, migrate and connect (waiting for the database as
        long as it takes), and build the worker."""
        partitions = settings.ticks_partitions
        topics = {settings.ticks_topic: partitions, settings.dead_topic: partitions}
        await ensure_topics(settings.kafka_bootstrap, {**topics, settings.updates_topic: partitions})
        pool = await _open_pool(settings)
        return cls(settings, pool, KafkaSink(settings))

    async def run(self) -> None:
        """Read and commit ticks and report lag until cancelled."""
        try:
            await self.engine.republish_current()  # updates a crash lost between commit and publish
        except Exception as exc:  # live clients still get every later update
            log.warning("current bars not republished at start: %r", exc)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.reader.run(), name="candleflow-engine-reader")
                group.create_task(_every(LAG_INTERVAL_S, self.report_lag), name="candleflow-lag")
        finally:
            await self.feed.follow(False)

    async def close(self) -> None:
        await self.feed.follow(False)
        with contextlib.suppress(Exception):
            await self.hub.stop()
        await self.sink.close()
        await self.pool.close()

    async def _current(self, keys: list[Key]) -> list[BarUpdate]:
        return await current_bars(self.pool, keys)

    # ----------------------------------------------------------- reader hooks

    async def _ledger(self, partitions: Sequence[int]) -> dict[int, int]:
        async with self.pool.acquire() as conn:
            return await read_ledger(conn, self.engine.consumer, self.engine.topic, partitions)

    async def _handle(self, prepared: Prepared) -> BatchResult:
        with self.hub.committing():
            result = await self.runner.run_prepared(prepared)
        self._note_lag(result.next_offsets)
        return result

    async def _revoked(self, partitions: frozenset[int]) -> None:
        if LEADER_PARTITION in partitions:
            await self.feed.follow(False)

    async def _assigned(self, partitions: frozenset[int]) -> None:
        await self.feed.follow(LEADER_PARTITION in partitions)

    # -------------------------------------------------------------------- lag

    def _note_lag(self, next_offsets: dict[int, int]) -> None:
        for partition, next_offset in next_offsets.items():
            highwater = self.reader.highwater(partition)
            if highwater is not None and partition in self.reader.assigned:
                self._set_lag(partition, max(0, highwater - next_offset))

    def _set_lag(self, partition: int, lag: int) -> None:
        self.status.lag[partition] = lag
        metrics.CONSUMER_LAG.labels(str(partition)).set(lag)

    async def report_lag(self) -> None:
        """Lag of each partition this worker holds: highwater minus the next offset the
        ledger expects (read from the database for partitions this worker has not
        written). Partitions it no longer holds leave the report."""
        assigned = set(self.reader.assigned)
        for partition in set(self.status.lag) - assigned:
            del self.status.lag[partition]
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(str(partition))
        written = self.engine.written
        unknown = [partition for partition in assigned if partition not in written]
        ledger = await self._ledger(unknown) if unknown else {}
        for partition in assigned:
            highwater = self.reader.highwater(partition)
            next_offset = written[partition][0] if partition in written else ledger.get(partition, 0)
            if highwater is not None and partition in self.reader.assigned:
                self._set_lag(partition, max(0, highwater - next_offset))


async def _every(interval: float, job: Callable[[], Awaitable[None]]) -> None:
    """Run `job` every `interval` seconds; a failure is logged and never ends the loop
    (lag is a report, never a reason to stop a worker)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await job()
        except Exception as exc:
            log.debug("%s failed: %r", getattr(job, "__name__", job), exc)


async def _open_pool(settings: Settings) -> Any:
    """Migrate and connect, waiting for the database as long as it takes."""
    delay = 0.5
    while True:
        try:
            await migrate(settings.database_url)
            return await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            log.warning("database %s not ready (%s); retrying in %.1f s", settings.database_url, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
