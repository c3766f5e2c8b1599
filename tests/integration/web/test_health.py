"""Health tells the truth, in a real worker process.

* A stalled engine — ticks waiting, its ledger rows held by another transaction, Kafka
  and PostgreSQL both up — fails readiness (503, with the reason) within 30 s, shows
  in `/metrics`, is logged at ERROR once, and never fails liveness; readiness comes
  back when the engine moves again.
* Readiness stays 200 while history reads hold every connection of the web layer: the
  probes have connections of their own.

(Readiness failing, and liveness not, when the broker or the database goes down is
checked in `tests/integration/engine/test_engine.py`'s outage test.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import asyncpg
import pytest

from candleflow.web.application import WEB_CONNECTIONS
from tests.harness import engine as harness
from tests.harness.health import metric, probe
from tests.harness.kafka import create_topics
from tests.harness.tickgen import generate
from tests.harness.waiting import eventually

pytestmark = pytest.mark.integration

PARTITIONS = 2
STALLED = "engine stalled"


async def started(stack: Any, names: Any, database_url: str, worker_factory: Any) -> Any:
    """A worker that has absorbed a first batch of ticks."""
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: PARTITIONS})
    worker = worker_factory.start(names.env(stack, database_url, CANDLEFLOW_TICKS_PARTITIONS=str(PARTITIONS)))
    await asyncio.to_thread(worker.wait_ready)
    await harness.publish(stack.kafka_bootstrap, names.ticks_topic, generate(500, days=0.5, seed=5))
    await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    return worker


def stall_lines(worker: Any) -> list[str]:
    return [line for line in worker.log_path.read_text(errors="replace").splitlines() if STALLED in line]


async def test_a_stalled_engine_is_not_ready_within_30_s_and_still_alive(
    stack: Any, names: Any, database_url: str, worker_factory: Any
) -> None:
    worker = await started(stack, names, database_url, worker_factory)
    status, body = await probe(f"{worker.url}/healthz")
    assert (status, body["status"], body["reason"]) == (200, "ok", None)
    holder = await asyncpg.connect(database_url)
    held = holder.transaction()
    await held.start()
    try:
        await holder.fetch("SELECT * FROM source_offsets WHERE consumer = $1 FOR UPDATE", names.app_id)
        await harness.publish(stack.kafka_bootstrap, names.ticks_topic, generate(200, days=0.1, seed=6))

        async def not_ready() -> bool:
            status, body = await probe(f"{worker.url}/healthz")
            return status == 503 and STALLED in (body["reason"] or "")

        await eventually(not_ready, 30, what="/healthz answering 503 for the stall", interval=0.5)
        status, body = await probe(f"{worker.url}/healthz")
        assert body["kafka"]["reachable"] and body["database"]["reachable"]
        assert body["engine"]["stalled"] is True and body["engine"]["total"] > 0
        first_age = max(body["engine"]["stalled_partitions"].values())
        assert await metric(worker.url, "candleflow_engine_stalled") == 1
        assert await metric(worker.url, "candleflow_engine_stalls_total", cause="unknown") == 1

        async def looked_twice_more() -> bool:
            _, later = await probe(f"{worker.url}/healthz")
            return (
                bool(later["engine"]["stalled_partitions"])
                and max(later["engine"]["stalled_partitions"].values()) >= first_age + 4
            )

        await eventually(looked_twice_more, 20, what="two more looks of the monitor", interval=0.5)
        lines = stall_lines(worker)
        assert len(lines) == 1 and "ERROR" in lines[0], lines
        assert (await probe(f"{worker.url}/livez")) == (200, {"status": "alive", "reason": None})
    finally:
        await held.rollback()
        await holder.close()

    async def ready() -> bool:
        return (await probe(f"{worker.url}/healthz"))[0] == 200

    await eventually(ready, 30, what="/healthz ready again", interval=0.5)
    await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    assert await metric(worker.url, "candleflow_engine_stalled") == 0


async def test_readiness_holds_while_history_reads_hold_every_web_connection(
    stack: Any, names: Any, database_url: str, worker_factory: Any
) -> None:
    worker = await started(stack, names, database_url, worker_factory)
    holder, watcher = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    held = holder.transaction()
    await held.start()
    reads: list[asyncio.Task[int]] = []
    try:

        async def history() -> int:
            query = {"symbol": "Coinbase:BTC/USD", "resolution": "1", "from": "0", "to": "4102444800"}
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session,
                session.get(f"{worker.url}/udf/history", params=query) as response,
            ):
                return response.status

        await holder.execute("LOCK TABLE bars IN ACCESS EXCLUSIVE MODE")  # every history read waits
        reads = [asyncio.ensure_future(history()) for _ in range(3 * WEB_CONNECTIONS)]

        async def pool_full() -> bool:
            # not on `holder`: in a transaction, pg_stat_activity is read once
            waiting = await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND query ILIKE '%bars%'"
            )
            return bool(int(waiting) >= WEB_CONNECTIONS)

        await eventually(pool_full, 30, what="every web connection waiting on a history read")
        status, body = await probe(f"{worker.url}/healthz", within=15)
        assert (status, body["database"]["reachable"], body["reason"]) == (200, True, None), body
        assert not any(read.done() for read in reads)  # the reads were still holding the pool
    finally:
        await held.rollback()
        await holder.close()
        await watcher.close()
    assert set(await asyncio.gather(*reads)) == {200}
