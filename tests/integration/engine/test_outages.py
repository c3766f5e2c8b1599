"""The bar engine through outages of the real broker and database (invariant 2): the
worker waits, retries and ends with exactly the reference bars, and its readiness says
what is down while its liveness holds. Its own file, apart from `test_engine.py`: it
stops the session's Kafka and PostgreSQL, and on its own the suite spreads better over
the test processes."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from candleflow.stack import Stack
from tests.harness import engine as harness
from tests.harness.health import probe
from tests.harness.tickgen import generate
from tests.harness.waiting import eventually
from tests.harness.worker import log_size, wait_for_log

pytestmark = pytest.mark.integration

PARTITIONS = 4
#: What the worker logs when a batch cannot be committed (EngineRunner) ...
DATABASE_OUTAGE_SEEN = re.compile(r"ticks not stored \(.*\); retrying")
#: ... and when its Kafka clients lose the broker (aiokafka).
BROKER_OUTAGE_SEEN = re.compile(r"KafkaConnectionError|Unable connect to node")


async def not_ready_but_alive(worker: Any, reason: str) -> None:
    """`/healthz` answers 503 saying `reason` within 30 s, and `/livez` still 200."""

    async def not_ready() -> bool:
        status, body = await probe(f"{worker.url}/healthz")
        return status == 503 and reason in (body["reason"] or "")

    await eventually(not_ready, 30, what=f"/healthz answering 503 for {reason}", interval=0.5)
    assert (await probe(f"{worker.url}/livez"))[0] == 200


async def test_broker_and_database_outages_lose_nothing(
    stack: Any, stack_control: Stack, names: Any, database_url: str, worker_factory: Any
) -> None:
    """The broker is killed and restarted, then PostgreSQL is stopped (immediate mode)
    for a while and started again, while ticks stream: the worker waits, retries and
    ends with exactly the reference bars. Meanwhile readiness fails, saying what is
    down, and liveness does not."""
    from tests.harness.kafka import create_topics

    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: PARTITIONS})
    worker = worker_factory.start(
        names.env(stack, database_url, CANDLEFLOW_TICKS_PARTITIONS=str(PARTITIONS), CANDLEFLOW_BATCH_MAX="2000")
    )
    await asyncio.to_thread(worker.wait_ready)
    ticks = generate(30_000, days=1.0, seed=53)
    await harness.publish(stack.kafka_bootstrap, names.ticks_topic, ticks[:10_000], pace=0.1)
    before = log_size(worker)
    await asyncio.to_thread(stack_control.kill_kafka)
    assert "kafka: stopped" in stack_control.status()
    await wait_for_log(worker, BROKER_OUTAGE_SEEN, before)
    await not_ready_but_alive(worker, "kafka unreachable")
    await asyncio.to_thread(stack_control.start_kafka)
    await harness.publish(stack.kafka_bootstrap, names.ticks_topic, ticks[10_000:20_000], pace=0.1)
    before = log_size(worker)
    await asyncio.to_thread(stack_control.stop_postgres, "immediate")
    assert "postgresql: stopped" in stack_control.status()
    await harness.publish(stack.kafka_bootstrap, names.ticks_topic, ticks[20_000:])
    await wait_for_log(worker, DATABASE_OUTAGE_SEEN, before)
    await not_ready_but_alive(worker, "database unreachable")
    await asyncio.to_thread(stack_control.start_postgres)
    assert worker.running
    await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    await harness.assert_matches_log(stack.kafka_bootstrap, names.ticks_topic, database_url)

    async def ready() -> bool:
        return (await probe(f"{worker.url}/healthz"))[0] == 200

    await eventually(ready, 30, what="/healthz ready again", interval=0.5)
