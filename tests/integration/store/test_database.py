"""A process's connections (`candleflow.store.database.Database`) on a real PostgreSQL:
bounded, reused, replaced when they cannot be trusted, lent for a statement or a
transaction, and `DatabaseUnavailable` when nothing answers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest

from candleflow.store.connection import DatabaseUnavailable, redacted
from candleflow.store.database import Database
from tests.harness.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url, max_connections=3)
    try:
        yield db
    finally:
        await db.close()


async def sessions(database_url: str) -> int:
    """Backends PostgreSQL holds for this database, this probe's own excepted."""
    probe = await asyncpg.connect(database_url)
    try:
        count: int = await probe.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return count
    finally:
        await probe.close()


async def running(database_url: str, query: str) -> bool:
    """True while another session runs `query`."""
    probe = await asyncpg.connect(database_url)
    try:
        found = await probe.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE query = $1 AND state = 'active'", query
        )
    finally:
        await probe.close()
    return bool(found)


async def test_statements_share_at_most_the_maximum_of_connections(database: Database, database_url: str) -> None:
    pids = await asyncio.gather(*(database.fetchval("SELECT pg_backend_pid() FROM pg_sleep(0.05)") for _ in range(12)))
    assert len(set(pids)) == 3 == database.open_connections
    assert await sessions(database_url) == 3
    # Taken back and lent again: one statement after another uses one connection.
    again = {await database.fetchval("SELECT pg_backend_pid()") for _ in range(5)}
    assert len(again) == 1 and again <= set(pids)
    rows = await database.fetch("SELECT generate_series(1, 3) AS n")
    assert [r["n"] for r in rows] == [1, 2, 3]
    row = await database.fetchrow("SELECT 7 AS seven")
    assert row is not None and row["seven"] == 7


async def test_an_error_answer_keeps_the_connection(database: Database) -> None:
    before = await database.fetchval("SELECT pg_backend_pid()")
    with pytest.raises(asyncpg.DivisionByZeroError):
        await database.fetchval("SELECT 1 / 0")
    assert await database.fetchval("SELECT pg_backend_pid()") == before
    assert database.open_connections == 1


async def test_a_cancelled_statement_closes_its_connection(database: Database, database_url: str) -> None:
    before = await database.fetchval("SELECT pg_backend_pid()")
    task = asyncio.create_task(database.fetchval("SELECT pg_sleep(10)"))
    await eventually(lambda: running(database_url, "SELECT pg_sleep(10)"), 10, what="the statement runs")
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert database.open_connections == 0
    assert await database.fetchval("SELECT pg_backend_pid()") != before
    assert database.open_connections == 1


async def test_a_connection_the_server_closed_is_replaced(database: Database, database_url: str) -> None:
    before = await database.fetchval("SELECT pg_backend_pid()")
    admin = await asyncpg.connect(database_url)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", before)
    finally:
        await admin.close()
    idle = list(database._idle)
    await eventually(lambda: all(c.is_closed() for c in idle), 10, what="the idle connection saw its socket end")
    assert await database.fetchval("SELECT pg_backend_pid()") != before
    assert database.open_connections == 1


async def test_a_transaction_commits_or_rolls_back_on_one_connection(database: Database) -> None:
    await database.execute("CREATE TABLE t (n int)")
    async with database.transaction() as conn:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        await conn.execute("INSERT INTO t VALUES (1)")
        assert await conn.fetchval("SELECT pg_backend_pid()") == pid
    with pytest.raises(asyncpg.UniqueViolationError):
        async with database.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES (2)")
            await conn.execute("CREATE UNIQUE INDEX ON t (n)")
            await conn.execute("INSERT INTO t VALUES (2)")
    assert [tuple(row) for row in await database.fetch("SELECT n FROM t")] == [(1,)]
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        async with database.transaction(readonly=True) as conn:
            await conn.execute("INSERT INTO t VALUES (3)")
    assert database.open_connections == 1  # PostgreSQL's own answers keep the connection


async def test_an_unreachable_database_is_unavailable_until_it_answers(database_url: str) -> None:
    unreachable = Database("postgresql://candleflow:s3cret@127.0.0.1:9/nowhere")
    for _ in range(2):  # a failed connect is not remembered: each call tries again
        with pytest.raises(DatabaseUnavailable) as refused:
            await unreachable.connected()
        assert "127.0.0.1:9" in str(refused.value) and "s3cret" not in str(refused.value)
    assert unreachable.open_connections == 0
    assert (
        redacted("postgresql://ann:pw@db:5432/x?sslmode=verify-full")
        == "postgresql://ann:***@db:5432/x?sslmode=verify-full"
    )
    reachable = Database(database_url)
    try:
        assert await reachable.connected() is reachable and reachable.open_connections == 1
    finally:
        await reachable.close()
    assert reachable.open_connections == 0
    with pytest.raises(DatabaseUnavailable):
        await reachable.fetchval("SELECT 1")  # closed for good: the process is shutting down
