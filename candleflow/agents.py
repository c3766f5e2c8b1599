"""Faust agents and tasks of a worker: the bar engine, its lag reporting and the
leader-only feed.

The engine agent turns off Faust's automatic acknowledgement and acknowledges each
event only after the batch holding it has committed to the database, so Kafka's
committed offset never runs ahead of the database; the ledger in the database makes
the re-deliveries that follow a crash harmless (see `candleflow.engine`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from candleflow import metrics, topics
from candleflow.app import app, settings
from candleflow.engine import BarEngine, Batcher, EngineRunner, Record
from candleflow.engine_status import STATUS
from candleflow.sink import KafkaSink

log = logging.getLogger(__name__)

#: The engine of this worker's agent, for lag reporting (empty until it starts).
_engines: list[BarEngine] = []


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


@app.agent(topics.ticks, concurrency=1)
async def bar_engine(stream: Any) -> None:
    stream.enable_acks = False
    await topics.dead.maybe_declare()
    await topics.updates.maybe_declare()
    pool = await _open_pool()
    sink = KafkaSink(settings)
    engine = BarEngine(settings, pool, sink)
    _engines.append(engine)
    runner = EngineRunner(engine)

    async def flush(events: list[Any]) -> None:
        records = [Record(e.message.partition, e.message.offset, e.message.key, e.value) for e in events]
        result = await runner.run(records)
        for partition, next_offset in result.next_offsets.items():
            STATUS.lag[partition] = max(0, _highwater(partition) - next_offset)
        for event in events:
            await stream.ack(event)

    batcher = Batcher(settings.batch_max, settings.batch_within, flush)
    timer = asyncio.ensure_future(batcher.run_timer())
    try:
        async for event in stream.events():
            await batcher.add(event)
    finally:
        timer.cancel()
        _engines.remove(engine)
        await sink.close()
        await pool.close()


def _highwater(partition: int) -> int:
    from faust.types import TP

    try:
        return int(app.consumer.highwater(TP(settings.ticks_topic, partition)) or 0)
    except Exception:  # the consumer may be rebalancing; lag is best effort
        return 0


@app.timer(interval=5.0)
async def report_lag() -> None:
    """Lag per assigned partition: highwater minus the next offset the database expects."""
    from faust.types import TP

    assigned = {tp.partition for tp in app.consumer.assignment() if tp.topic == settings.ticks_topic}
    for partition in set(STATUS.lag) - assigned:
        del STATUS.lag[partition]
        metrics.CONSUMER_LAG.labels(str(partition)).set(0)
    written = _engines[0].written if _engines else {}
    for partition in assigned:
        if partition in written:
            next_offset = written[partition][0]
        else:
            next_offset = await app.consumer.position(TP(settings.ticks_topic, partition)) or 0
        STATUS.lag[partition] = max(0, _highwater(partition) - int(next_offset))
        metrics.CONSUMER_LAG.labels(str(partition)).set(STATUS.lag[partition])


@app.task(on_leader=True)
async def feed() -> None:
    """The worker's own source (`CANDLEFLOW_SOURCE`), on the group leader only so that
    adding workers never duplicates ticks."""
    if settings.source == "none":
        return
    from candleflow.sources.runner import run_source

    log.info("starting the %s feed on the leader", settings.source)
    await run_source(settings, asyncio.Event())
