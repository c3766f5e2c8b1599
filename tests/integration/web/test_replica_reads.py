"""Reads through a real streaming replica (the secured stack's: `pg_basebackup` + streaming
replication, TLS): history served from the replica equals the primary once it catches
up; a replica whose replay is paused (it lags) or that is stopped (it is down) shows in
`/healthz`, and the reads go to the primary (`CANDLEFLOW_REPLICA_FALLBACK=primary`) or
fail with a 503 that says why (`fail`), until the replica is back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest

from candleflow.core.settings import Settings
from candleflow.stack import Stack, StackInfo
from tests.harness.reference import LogTick, reference_bars
from tests.harness.udf_seed import insert_bars, insert_symbols
from tests.harness.waiting import eventually
from tests.harness.web import Served, serving

pytestmark = pytest.mark.integration

SYMBOL = "Coinbase:BTC/USD"
T = 1_704_067_200  # 2024-01-01T00:00Z
MAX_LAG_S = 1.0


def _ticks(first_minute: int, minutes: int) -> list[LogTick]:
    return [LogTick(SYMBOL, (T + 60 * m) * 1000 + 5, 100.0 + m, 1.0, m) for m in range(first_minute, minutes)]


async def _seed(url: str, ticks: list[LogTick]) -> None:
    await insert_symbols(url, ticks, {SYMBOL: 2})
    await insert_bars(url, {k: b for k, b in reference_bars(ticks).items() if k[1] == "1"})


async def _get(session: aiohttp.ClientSession, url: str, **params: Any) -> tuple[int, Any]:
    async with session.get(url, params=params) as response:
        return response.status, await response.json()


async def _history(session: aiohttp.ClientSession, served: Served) -> tuple[int, Any]:
    return await _get(
        session, f"{served.url}/udf/history", symbol=SYMBOL, resolution="1", **{"from": T, "to": T + 3600}
    )


@contextlib.asynccontextmanager
async def _apps(stack: StackInfo, database_url: str) -> AsyncIterator[tuple[Served, Served]]:
    """The web application reading from the replica, falling back to the primary, and one
    that may not."""
    replica = stack.replica_url_of(urlsplit(database_url).path.lstrip("/"))
    assert replica is not None
    env = {
        **stack.env(),
        "CANDLEFLOW_DATABASE_URL": database_url,
        "CANDLEFLOW_DATABASE_READ_URL": replica,
        "CANDLEFLOW_REPLICA_MAX_LAG": str(MAX_LAG_S),
    }
    async with (
        serving(Settings.from_env(env | {"CANDLEFLOW_REPLICA_FALLBACK": "primary"})) as falling_back,
        serving(Settings.from_env(env | {"CANDLEFLOW_REPLICA_FALLBACK": "fail"})) as failing,
    ):
        yield falling_back, failing


async def _reads_from(session: aiohttp.ClientSession, served: Served, where: str) -> dict[str, Any] | None:
    async with session.get(f"{served.url}/healthz") as response:
        health: dict[str, Any] = await response.json()
    return health if health["replica"]["reads_from"] == where else None


async def _serves(session: aiohttp.ClientSession, served: Served, minutes: int) -> bool:
    status, body = await _history(session, served)
    return status == 200 and len(body.get("t", ())) == minutes


async def _assert_refused(session: aiohttp.ClientSession, served: Served, why: str) -> None:
    async with session.get(f"{served.url}/healthz") as response:
        assert response.status == 503
        assert why in (await response.json())["reason"]
    status, body = await _history(session, served)
    assert status == 503 and why in body["errmsg"] and "CANDLEFLOW_REPLICA_FALLBACK=fail" in body["errmsg"]


async def test_reads_follow_the_replica_while_it_keeps_up(
    secured_stack: StackInfo, secured_stack_control: Stack, secured_database_url: str
) -> None:
    await _seed(secured_database_url, _ticks(0, 30))
    replica_url = secured_stack.replica_url_of(urlsplit(secured_database_url).path.lstrip("/"))
    assert replica_url is not None
    async with aiohttp.ClientSession() as session, _apps(secured_stack, secured_database_url) as (back, fail):
        for served in (back, fail):
            await eventually(lambda s=served: _reads_from(session, s, "replica"), 30, what="the replica caught up")  # type: ignore[misc]
            await eventually(lambda s=served: _serves(session, s, 30), 30, what="the replica's bars")  # type: ignore[misc]
        _, from_replica = await _history(session, back)
        assert from_replica["c"] == [100.0 + m for m in range(30)], "the replica's bars are the primary's"

        standby = await asyncpg.connect(replica_url)
        try:
            await standby.execute("SELECT pg_wal_replay_pause()")
            try:
                await _seed(secured_database_url, _ticks(30, 40))
                health = await eventually(lambda: _reads_from(session, back, "primary"), 30, what="lag seen")
                assert health["status"] == "degraded" and health["replica"]["lag_s"] > MAX_LAG_S
                assert await _serves(session, back, 40), "the primary's newer bars are served meanwhile"
                await eventually(lambda: _reads_from(session, fail, "none"), 30, what="lag seen")
                await _assert_refused(session, fail, "behind the primary")
            finally:
                await standby.execute("SELECT pg_wal_replay_resume()")
        finally:
            await standby.close()
        for served in (back, fail):
            await eventually(lambda s=served: _reads_from(session, s, "replica"), 30, what="the replica caught up")  # type: ignore[misc]
            assert await _serves(session, served, 40)

        await asyncio.to_thread(secured_stack_control.stop_replica)
        try:
            health = await eventually(lambda: _reads_from(session, back, "primary"), 30, what="the replica down")
            assert health["replica"]["reachable"] is False and health["replica"]["error"]
            await eventually(lambda: _serves(session, back, 40), 10, what="reads on the primary")
            await eventually(lambda: _reads_from(session, fail, "none"), 30, what="the replica down")
            await _assert_refused(session, fail, "read replica down")
        finally:
            await asyncio.to_thread(secured_stack_control.up)
        await eventually(lambda: _reads_from(session, back, "replica"), 60, what="the replica back")
        assert await _serves(session, back, 40)
