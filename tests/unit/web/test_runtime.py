"""The web views' way to the worker: nothing is served from a worker that has not started."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from candleflow.core.engine_status import EngineStatus
from candleflow.kafka.config import KafkaConfig
from candleflow.web import runtime
from candleflow.web.errors import UdfError
from candleflow.web.hub import Hub


class Started:
    def __init__(self) -> None:
        self.status = EngineStatus()
        self.hub = Hub(KafkaConfig("127.0.0.1:9"), "bars.updates", 16)


def request_to(app: web.Application) -> web.Request:
    return make_mocked_request("GET", "/udf/stream", app=app)


def test_a_stream_before_the_worker_started_is_a_retryable_503() -> None:
    app = web.Application()
    runtime.install(app)
    with pytest.raises(UdfError) as refused:
        runtime.runtime_hub(request_to(app))
    assert refused.value.status == 503
    assert refused.value.headers["Retry-After"] == "2"
    assert "starting" in refused.value.message


def test_an_attached_worker_serves_its_own_hub() -> None:
    app = web.Application()
    slot = runtime.install(app)
    assert runtime.install(app) is slot, "installing twice keeps the first slot"
    worker = Started()
    slot.attach(worker)
    assert runtime.runtime_hub(request_to(app)) is worker.hub
    slot.detach()
    with pytest.raises(UdfError):
        runtime.runtime_hub(request_to(app))


async def test_a_stream_opened_while_the_worker_starts_waits_for_it() -> None:
    app = web.Application()
    slot = runtime.install(app)
    worker = Started()
    waiting = asyncio.ensure_future(runtime.started_hub(request_to(app), within=30))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    slot.attach(worker)
    assert await waiting is worker.hub


async def test_a_worker_that_never_starts_ends_the_wait_with_503() -> None:
    app = web.Application()
    runtime.install(app)
    with pytest.raises(UdfError) as refused:
        await runtime.started_hub(request_to(app), within=0.05)
    assert refused.value.status == 503
