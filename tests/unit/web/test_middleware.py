"""The middleware tells a client that went away mid-answer from a database that failed:
the one is recorded as 499 and logged nowhere, the other is a 503 counted as a rejection."""

from __future__ import annotations

import logging
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from candleflow.core.settings import Settings
from candleflow.web.application import create_web_app
from candleflow.web.middleware import CLIENT_GONE, udf_middleware, without_details


async def reset(request: web.Request) -> web.StreamResponse:
    raise ConnectionResetError("Cannot write to closing transport")


async def request_over(closing: bool) -> web.Request:
    """A request of `/udf/stream` over a connection that is closing (or not)."""
    app = create_web_app(Settings())
    transport = mock.Mock()
    transport.is_closing.return_value = closing
    request = make_mocked_request("GET", "/udf/stream", transport=transport, app=app)
    route = await app.router.resolve(request)
    route.add_app(app)
    request._match_info = route  # the real route (the helper gives a mock one)
    return request


@pytest.mark.parametrize(("closing", "status"), [(True, CLIENT_GONE), (False, 503)])
async def test_a_reset_is_the_clients_only_when_its_connection_is_closing(
    closing: bool, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "candleflow.web.rejected")
    response = await udf_middleware(await request_over(closing), reset)
    assert response.status == status
    refused = [r.getMessage() for r in caplog.records if r.name == "candleflow.web.rejected"]
    assert refused == (
        []
        if closing
        else [
            "1 refused (unavailable); last at /udf/stream, database error: "
            "ConnectionResetError('Cannot write to closing transport')"
        ]
    )


def test_a_replicas_refusal_tells_what_is_wrong_without_the_raw_error() -> None:
    raw = (
        "read replica down: [Errno 111] Connect call failed ('10.0.0.7', 5433); "
        "reads do not fall back to the primary (CANDLEFLOW_REPLICA_FALLBACK=fail)"
    )
    assert without_details(raw) == (
        "read replica down; reads do not fall back to the primary (CANDLEFLOW_REPLICA_FALLBACK=fail)"
    )
    lagging = "read replica 12.5 s behind the primary (more than 10 s); reads do not fall back"
    assert without_details(lagging) == lagging
