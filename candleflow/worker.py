"""`Worker`: what one `candleflow worker` process runs beside its web application.

A worker owns, for its whole life, the engine's `Database` (a few connections), the
Kafka sink of the engine's output, the `BarEngine` and its runner, the `TickReader`, the
dead-letter outbox, the monitor that tells whether the engine is stalled, the engine
status `/healthz` and `/livez` report, the SSE hub of its web server (fed in memory by
its engine in `CANDLEFLOW_ROLE=all`; an engine-only worker serves no stream) and the
leader-only feed. `Worker.open` connects (waiting for the database) and builds it; the
constructor takes the database and the sink ready-made, which is the seam for tests
that run a worker in-process against the real stack. The web views reach the status
and the hub through the application's `candleflow.web.runtime.Runtime`.

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
from collections.abc import Sequence

from candleflow.core.engine_status import EngineStatus
from candleflow.core.feed_status import FeedStatus
from candleflow.core.settings import Settings
from candleflow.domain.updates import BarUpdate, Key
from candleflow.engine.bar_engine import BarEngine, BatchResult
from candleflow.engine.monitor import EngineMonitor
from candleflow.engine.outbox import DeadLetterOutbox
from candleflow.engine.prepare import Prepared
from candleflow.engine.reader import TickReader
from candleflow.engine.runner import EngineRunner
from candleflow.engine.sink import KafkaSink
from candleflow.functions.registry import FunctionSet
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.topics import Topics, ensure_topics
from candleflow.store.bars import read_ledger
from candleflow.store.database import Database, open_database
from candleflow.web.hub import Hub
from candleflow.web.updates_feed import UpdatesFeed, current_bars

log = logging.getLogger(__name__)

#: Connections of the engine's database: one transaction at a time, plus the outbox and hub reads.
ENGINE_CONNECTIONS = 4
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
        database: Database,
        sink: KafkaSink,
        functions: FunctionSet | None = None,
    ) -> None:
        self.settings = settings
        self.kafka = sink.kafka
        self.database = database
        self.sink = sink
        self.status = EngineStatus()
        #: The live bars of this worker's web server: started by the first stream, stopped on close.
        self.hub = Hub(
            UpdatesFeed(self.kafka, settings.updates_topic, origin=sink.origin, reread=self._current),
            settings.sse_queue,
        )
        if settings.role == "all":
            sink.local = self.hub.receive_all  # this process's charts get its commits in memory
        self.engine = BarEngine(settings, database, sink, status=self.status, functions=functions)
        self.outbox = DeadLetterOutbox(
            database,
            sink,
            kafka=self.kafka,
            dead_topic=settings.dead_topic,
            consumer=self.engine.consumer,
            topic=self.engine.topic,
            status=self.status,
        )
        self.runner = EngineRunner(self.engine, rejected=self.outbox.wake)
        self.feed = Feed(settings)
        self.reader = TickReader(
            settings,
            self._ledger,
            self.engine.prepare,
            self._handle,
            revoked=self._revoked,
            assigned_now=self._assigned,
            settled=self.hub.settled,
            beat=self.status.beat,
            kafka=self.kafka,
        )
        self.monitor = EngineMonitor(
            self.status,
            lambda: set(self.reader.assigned),
            kafka=self.kafka,
            database_url=settings.database_url,
            consumer=self.engine.consumer,
            topic=self.engine.topic,
            stall_after=settings.stall_after,
        )

    @classmethod
    async def open(cls, settings: Settings, functions: FunctionSet | None = None) -> Worker:
        """Make sure the topics exist, migrate and connect (waiting for the database as
        long as it takes), and build the worker (computing `functions`, built once per
        process and shared with its web application, or those the settings configure)."""
        kafka = KafkaConfig.from_settings(settings)
        await ensure_topics(kafka, Topics.from_settings(settings).all)
        database = await open_database(settings.database_url, ENGINE_CONNECTIONS)
        return cls(settings, database, KafkaSink(settings, kafka), functions)

    async def run(self) -> None:
        """Read and commit ticks, publish dead letters and watch for stalls until cancelled."""
        try:
            await self.engine.republish_current()  # updates a crash lost between commit and publish
        except Exception as exc:  # live clients still get every later update
            log.warning("current bars not republished at start: %r", exc)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.reader.run(), name="candleflow-engine-reader")
                group.create_task(self.outbox.run(), name="candleflow-dead-letters")
                group.create_task(self.monitor.run(), name="candleflow-engine-monitor")
        finally:
            await self.feed.follow(False)

    async def close(self) -> None:
        await self.feed.follow(False)
        with contextlib.suppress(Exception):
            await self.hub.stop()
        await self.sink.close()
        await self.database.close()

    async def _current(self, keys: list[Key]) -> list[BarUpdate]:
        return await current_bars(self.database, keys)

    # ----------------------------------------------------------- reader hooks

    async def _ledger(self, partitions: Sequence[int]) -> dict[int, int]:
        return await read_ledger(self.database, self.engine.consumer, self.engine.topic, partitions)

    async def _handle(self, prepared: Prepared) -> BatchResult:
        with self.hub.committing():
            return await self.runner.run_prepared(prepared)

    async def _revoked(self, partitions: frozenset[int]) -> None:
        if LEADER_PARTITION in partitions:
            await self.feed.follow(False)

    async def _assigned(self, partitions: frozenset[int]) -> None:
        self.outbox.wake()  # dead letters a previous holder of these partitions left
        await self.feed.follow(LEADER_PARTITION in partitions)
