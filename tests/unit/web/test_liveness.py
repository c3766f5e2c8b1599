"""`/livez` served by the real application, in-process: it fails (503) only when the
process must be restarted — the engine's loop hung, or its task ended by an error — and
never because a dependency is down, which a restart would not bring back. Kafka and
PostgreSQL are named at ports where nothing listens, so readiness fails beside it."""

from __future__ import annotations

import time

import aiohttp

from candleflow.core.engine_status import HUNG_AFTER_S, EngineStatus
from candleflow.core.settings import Settings
from candleflow.stack.ports import free_port
from candleflow.web.hub import Hub
from candleflow.web.runtime import Runtime
from tests.harness.web import serving


class Started:
    """What a worker hands the application: its status and its hub."""

    def __init__(self) -> None:
        self.status = EngineStatus()
        self.hub = Hub(None, 16)


def unreachable() -> Settings:
    """Settings whose Kafka and PostgreSQL are ports nothing listens on."""
    return Settings(
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        database_url=f"postgresql://candleflow@127.0.0.1:{free_port()}/candleflow",
    )


async def answer(url: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def test_a_dependency_down_fails_readiness_and_never_liveness() -> None:
    runtime = Runtime()
    runtime.attach(Started())
    async with serving(unreachable(), runtime=runtime) as served:
        ready, _ = await answer(f"{served.url}/healthz")
        alive = await answer(f"{served.url}/livez")
    assert ready == 503
    assert alive == (200, {"status": "alive", "reason": None})


async def test_an_engine_loop_that_stopped_turning_is_hung() -> None:
    runtime = Runtime()
    worker = Started()
    runtime.attach(worker)
    async with serving(unreachable(), runtime=runtime) as served:
        assert (await answer(f"{served.url}/livez"))[0] == 200
        worker.status.beat_at = time.monotonic() - HUNG_AFTER_S - 5
        status, body = await answer(f"{served.url}/livez")
    assert status == 503
    assert body["status"] == "hung"
    assert "no progress of its loop" in str(body["reason"])


async def test_an_engine_task_that_ended_by_an_error_is_dead() -> None:
    runtime = Runtime()
    async with serving(unreachable(), runtime=runtime) as served:
        runtime.ended = "RuntimeError: the ledger refused"
        status, body = await answer(f"{served.url}/livez")
    assert status == 503
    assert body == {"status": "dead", "reason": "engine task ended: RuntimeError: the ledger refused"}
