"""Faust agents and tasks of a worker: the bar engine, its lag reporting and the
leader-only feed.

The engine reads `ticks.raw` in one of two ways (`CANDLEFLOW_ENGINE_READER`):

* `agent`: the Faust agent `bar_engine`. It turns off Faust's automatic
  acknowledgement and acknowledges each event only after the batch holding it has
  committed to the database, so Kafka's committed offset never runs ahead of the
  database; the ledger in the database makes the re-deliveries after a crash harmless.
* `bulk`: the task `bulk_engine` runs `candleflow.reader.BulkReader` in every worker,
  which fetches thousands of records per call and positions itself from the ledger.

Both feed the same `BarEngine`, so they store exactly the same bars.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from candleflow import metrics, topics
from candleflow.app import app, settings
from candleflow.batching import Batcher
from candleflow.engine import BarEngine, EngineRunner, Prepared, Record
from candleflow.engine_status import STATUS
from candleflow.sink import KafkaSink

log = logging.getLogger(__name__)

#: The engine of this worker, for lag reporting (empty until it starts).
_engines: list[BarEngine] = []
#: The bulk reader of this worker (bulk mode only).
_readers: list[Any] = []
#: The highwater of a ticks partition as this worker's reader last saw it.
_highwaters: dict[int, int] = {}


async def _open_pool() -> Any:
    """Migrate and connect, waiting for the database as long as it takes."""
    import asyncpg

    from candleflow.store.migrate import migrate

    delay = 0.5
    while True:
        try:
            await migrate(settings.database_url)
            return await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            log.warning("database %s not ready (%s); retrying in %.1f s", settings.database_url, exc, delay)
            STATUS.last_error = f"database: {exc}"
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


async def _start_engine() -> tuple[Any, KafkaSink, BarEngine]:
    await topics.dead.maybe_declare()
    await topics.updates.maybe_declare()
    pool = await _open_pool()
    sink = KafkaSink(settings)
    engine = BarEngine(settings, pool, sink)
    _engines.append(engine)
    try:
        await engine.republish_current()
    except Exception as exc:  # live clients still get every later update
        log.warning("current bars not republished at start: %r", exc)
    return pool, sink, engine


async def _stop_engine(pool: Any, sink: KafkaSink, engine: BarEngine) -> None:
    _engines.remove(engine)
    await sink.close()
    await pool.close()


def _note_lag(next_offsets: dict[int, int]) -> None:
    for partition, next_offset in next_offsets.items():
        STATUS.lag[partition] = max(0, _highwaters.get(partition, next_offset) - next_offset)


if settings.engine_reader == "agent":

    @app.agent(topics.ticks, concurrency=1)
    async def bar_engine(stream: Any) -> None:
        stream.enable_acks = False
        pool, sink, engine = await _start_engine()
        runner = EngineRunner(engine)

        async def flush(events: list[Any]) -> None:
            records = [
                Record(e.message.partition, e.message.offset, e.message.key, e.value, int(e.message.timestamp * 1000))
                for e in events
            ]
            result = await runner.run(records)
            for partition in result.next_offsets:
                _highwaters[partition] = _faust_highwater(partition)
            _note_lag(result.next_offsets)
            for event in events:
                await stream.ack(event)

        batcher = Batcher(settings.batch_max, settings.batch_within, flush)
        timer = asyncio.ensure_future(batcher.run_timer())
        try:
            async for event in stream.events():
                await batcher.add(event)
        finally:
            timer.cancel()
            await _stop_engine(pool, sink, engine)

else:

    @app.task
    async def bulk_engine() -> None:
        from candleflow.reader import BulkReader
        from candleflow.store.bars import read_ledger

        await topics.ticks.maybe_declare()
        pool, sink, engine = await _start_engine()
        runner = EngineRunner(engine)

        async def ledger(partitions: Sequence[int]) -> dict[int, int]:
            async with pool.acquire() as conn:
                return await read_ledger(conn, engine.consumer, engine.topic, partitions)

        async def handle(prepared: Prepared) -> None:
            result = await runner.run_prepared(prepared)
            for partition in result.next_offsets:
                _highwaters[partition] = reader.highwater(partition) or 0
            _note_lag(result.next_offsets)

        reader = BulkReader(settings, ledger, engine.prepare, handle)
        _readers.append(reader)
        try:
            await reader.run()
        finally:
            _readers.remove(reader)
            await _stop_engine(pool, sink, engine)


def _faust_highwater(partition: int) -> int:
    from faust.types import TP

    try:
        return int(app.consumer.highwater(TP(settings.ticks_topic, partition)) or 0)
    except Exception:  # the consumer may be rebalancing; lag is best effort
        return 0


def _assigned() -> set[int]:
    """The ticks partitions this worker's reader holds now."""
    if _readers:
        return set(_readers[0].assigned)
    try:
        return {tp.partition for tp in app.consumer.assignment() if tp.topic == settings.ticks_topic}
    except Exception:  # the consumer may be rebalancing
        return set()


@app.timer(interval=5.0)
async def report_lag() -> None:
    """Lag of each partition this worker holds: highwater minus the next offset the
    ledger expects (read from the database for partitions this worker has not written)."""
    if not _engines:
        return
    engine = _engines[0]
    assigned = _assigned()
    unknown = [partition for partition in assigned if partition not in engine.written]
    ledger: dict[int, int] = {}
    if unknown:
        from candleflow.store.bars import read_ledger

        try:
            async with engine.pool.acquire() as conn:
                ledger = await read_ledger(conn, engine.consumer, engine.topic, unknown)
        except Exception as exc:  # /healthz reports the database separately
            log.debug("lag: ledger not readable: %s", exc)
    for partition in set(STATUS.lag) - assigned:
        del STATUS.lag[partition]
        with contextlib.suppress(KeyError):
            metrics.CONSUMER_LAG.remove(str(partition))
    for partition in assigned:
        highwater = (_readers[0].highwater(partition) if _readers else _faust_highwater(partition)) or 0
        _highwaters[partition] = highwater
        written = engine.written.get(partition)
        next_offset = written[0] if written is not None else ledger.get(partition, 0)
        STATUS.lag[partition] = max(0, highwater - next_offset)
        metrics.CONSUMER_LAG.labels(str(partition)).set(STATUS.lag[partition])


class _Feed:
    """The worker's own source (`CANDLEFLOW_SOURCE`), run on the group leader only so that
    adding workers never duplicates ticks.

    Faust's `on_leader` tasks decide once, at start; this supervisor asks every
    `interval` seconds instead, so the feed follows leadership: it starts on a worker
    that becomes leader (for example after the old leader died) and stops on one that
    no longer is.
    """

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.stop = asyncio.Event()
        self.leading = False

    async def follow(self, leader: bool) -> None:
        """Start the feed when this worker becomes leader, stop it when it stops being one.

        A feed that ends on its own while we lead (e.g. CryptoCompare refused the API
        key) is not restarted: its error says what to fix.
        """
        if leader and not self.leading:
            from candleflow.sources.runner import run_source

            log.info("this worker leads the group: starting the %s feed", settings.source)
            self.stop = asyncio.Event()
            self.task = asyncio.ensure_future(run_source(settings, self.stop))
        elif not leader and self.leading and self.task is not None:
            log.info("this worker no longer leads the group: stopping the %s feed", settings.source)
            self.stop.set()
            await asyncio.wait({self.task}, timeout=30)
        self.leading = leader


_feed = _Feed()


@app.timer(interval=2.0)
async def feed() -> None:
    if settings.source != "none":
        await _feed.follow(app.is_leader())
