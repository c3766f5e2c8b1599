"""The web application factory: two applications with different settings side by side in
one process (nothing lives in a module global), one route table, the engine status a
worker attaches, the chart's files, and no versions or Faust routes on the wire."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from candleflow.core.settings import Settings
from candleflow.stack import StackInfo
from candleflow.web.runtime import Runtime
from tests.harness import Names
from tests.harness.sse import SYMBOL, stream, two_series
from tests.harness.waiting import eventually
from tests.harness.web import LiveHub, serving, serving_live

pytestmark = pytest.mark.integration


async def get(url: str, **params: Any) -> tuple[int, dict[str, str], Any]:
    async with aiohttp.ClientSession() as session, session.get(url, params=params) as response:
        body = await response.json(content_type=None) if response.content_type != "text/html" else None
        return response.status, dict(response.headers), body


async def test_two_applications_in_one_process_keep_their_own_settings(
    stack: StackInfo, database_url: str, names: Names
) -> None:
    await two_series(stack, database_url, names)
    small = Settings.from_env(names.env(stack, database_url, max_countback=10))
    large = Settings.from_env(names.env(stack, database_url, max_countback=5000))
    async with serving(small) as a, serving(large) as b:
        query = {"symbol": SYMBOL, "resolution": "1", "to": 2_000_000_000, "countback": 100}
        status_a, _, body_a = await get(f"{a.url}/udf/history", **query)
        status_b, _, body_b = await get(f"{b.url}/udf/history", **query)
        assert status_a == 400 and "countback=100 is above 10" in body_a["errmsg"]
        assert status_b == 200 and body_b["s"] == "ok"
        for served, maximum in ((a, 10), (b, 5000)):
            _, _, spec = await get(f"{served.url}/openapi.json")
            countback = next(p for p in spec["paths"]["/udf/history"]["get"]["parameters"] if p["name"] == "countback")
            assert countback["schema"]["maximum"] == maximum


async def test_no_versions_and_no_faust_routes_on_the_wire(stack: StackInfo, database_url: str, names: Names) -> None:
    async with serving(Settings.from_env(names.env(stack, database_url))) as server:
        for path in ("/router/", "/router/x/", "/table/", "/stats/", "/udf/time"):
            status, headers, body = await get(f"{server.url}{path}")
            assert headers["Server"] == "candleflow", path
            if path != "/udf/time":
                assert (status, body) == (404, {"s": "error", "errmsg": "not found"}), path
        host, port = server.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:  # a malformed request, answered by aiohttp before any of our hooks run
            writer.write(b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n")
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        finally:
            writer.close()
        assert head.startswith("HTTP/1.0 400") and "\r\nServer: candleflow\r\n" in head, head


async def test_healthz_reports_the_attached_worker(stack: StackInfo, database_url: str, names: Names) -> None:
    settings = Settings.from_env(names.env(stack, database_url))
    runtime = Runtime()
    async with serving(settings, runtime=runtime) as server:
        _, _, before = await get(f"{server.url}/healthz")
        assert before["engine"] == {"state": "starting"}
        worker = LiveHub(settings, server.context.database)
        worker.status.lag = {0: 3, 2: 4}
        runtime.attach(worker)
        status, headers, body = await get(f"{server.url}/healthz")
        assert status == 200 and headers["Cache-Control"] == "no-store"
        assert body["engine"]["state"] == "running"
        assert (body["engine"]["partitions"], body["engine"]["total"]) == ({"0": 3, "2": 4}, 7)
        assert body["kafka"] == {"reachable": True, "bootstrap": stack.kafka_bootstrap, "error": None}


async def test_the_charts_files(stack: StackInfo, database_url: str, names: Names) -> None:
    async with serving(Settings.from_env(names.env(stack, database_url))) as server:
        status, headers, _ = await get(f"{server.url}/")
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        for path in ("/assets/nothing-here.js", "/no-such-file.ico", "/assets/../../pyproject.toml"):
            status, headers, body = await get(f"{server.url}{path}")
            assert (status, body) == (404, {"s": "error", "errmsg": "not found"}), path


async def test_stopping_the_server_ends_open_streams(stack: StackInfo, database_url: str, names: Names) -> None:
    await two_series(stack, database_url, names)
    settings = Settings.from_env(names.env(stack, database_url, sse_heartbeat=60))
    async with aiohttp.ClientSession() as session:
        async with serving_live(settings) as (server, live):
            opened = stream(session, server.url, SYMBOL, "1")
            _, reader = await opened.__aenter__()
            await reader.wait_for(lambda r: len(r.bars()) >= 1)
            assert live.hub.clients == 1
        # the block ended: the server stopped, and the stream with it (not after a heartbeat)
        await eventually(lambda: reader.ended, 10, what="the client saw its stream end")
        await opened.__aexit__(None, None, None)


async def test_the_catalogue_lists_the_functions_the_application_was_built_with(
    stack: StackInfo, database_url: str, names: Names
) -> None:
    settings = Settings.from_env(
        names.env(stack, database_url, functions="rsi(period=14)", ma_periods="5,9", crossover="5,9")
    )
    async with serving(settings, runtime=Runtime()) as server:
        status, headers, body = await get(f"{server.url}/api/functions")
    assert status == 200 and headers["Cache-Control"] == "public, max-age=60"
    keys = {entry["key"] for entry in body["functions"]}
    assert {"sma(period=5)", "ema(period=9)", "rsi(period=14)"} <= keys, keys
    assert server.context.functions.find("rsi", {"period": "14"}).key == "rsi(period=14)"
