"""The web views' way to the worker: nothing is served from a worker that has not started."""

from __future__ import annotations

import asyncio

import pytest

from candleflow.core.engine_status import EngineStatus
from candleflow.web.errors import UdfError
from candleflow.web.hub import Hub
from candleflow.web.runtime import Runtime


class Started:
    def __init__(self) -> None:
        self.status = EngineStatus()
        self.hub = Hub(None, 16)


def test_a_stream_before_the_worker_started_is_a_retryable_503() -> None:
    with pytest.raises(UdfError) as refused:
        Runtime().hub()
    assert refused.value.status == 503
    assert refused.value.headers["Retry-After"] == "2"
    assert "starting" in refused.value.message


def test_an_attached_worker_serves_its_own_hub() -> None:
    runtime = Runtime()
    worker = Started()
    runtime.attach(worker)
    assert runtime.hub() is worker.hub
    runtime.detach()
    with pytest.raises(UdfError):
        runtime.hub()


async def test_a_stream_opened_while_the_worker_starts_waits_for_it() -> None:
    runtime = Runtime()
    worker = Started()
    waiting = asyncio.ensure_future(runtime.started_hub(within=30))
    for _ in range(3):  # a few turns of the loop: the wait is under way, nothing to wait for
        await asyncio.sleep(0)
    assert not waiting.done()
    runtime.attach(worker)
    assert await waiting is worker.hub


async def test_a_worker_that_never_starts_ends_the_wait_with_503() -> None:
    with pytest.raises(UdfError) as refused:
        await Runtime().started_hub(within=0.05)
    assert refused.value.status == 503
