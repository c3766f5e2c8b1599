"""pricescale in the store: the symbols upsert runs `candleflow.domain.pricescale` in SQL
(held to the Python rule with Hypothesis), one outlier tick does not set it, and an
explicit tick size wins and stays."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from candleflow.domain.pricescale import (
    BUCKETS,
    KEEP,
    SHARE,
    covering_decimals,
    merge_counts,
    one_price,
    parse_tick_size,
)
from candleflow.domain.symbols import SymbolSeen
from candleflow.store import bars as store
from candleflow.store import queries
from candleflow.web.symbol_info import library_symbol_info

pytestmark = pytest.mark.integration

SYMBOL = "Coinbase:BTC/USD"
T0 = 1_732_406_400_000


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[Any]:
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


counts = st.lists(st.integers(0, 10**9), min_size=0, max_size=BUCKETS)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(counts, counts, st.integers(0, 3 * 10**9))
async def test_the_sql_rule_is_the_python_rule(conn: Any, held: list[int], more: list[int], keep: int) -> None:
    merged = await conn.fetchval("SELECT candleflow_add_counts($1::bigint[], $2::bigint[], $3)", held, more, keep)
    assert list(merged) == merge_counts(held, more, keep)
    decimals = await conn.fetchval("SELECT candleflow_decimals($1::bigint[], $2)", held, SHARE)
    assert decimals == covering_decimals(held, SHARE)


async def seen_ticks(conn: Any, places: list[int], tick: str | None = None, at: int = 0) -> None:
    counts = [0] * BUCKETS
    for p in places:
        counts = merge_counts(counts, one_price(p), keep=2**62)
    size = None if tick is None else parse_tick_size(tick)
    await store.upsert_symbols(conn, {SYMBOL: SymbolSeen(max(places), T0 + at, T0 + at, counts, size)})


async def symbol_info(conn: Any) -> dict[str, Any]:
    row = await queries.find_symbol(conn, SYMBOL)
    assert row is not None
    return library_symbol_info(row)


async def test_one_outlier_tick_does_not_set_the_scale(conn: Any) -> None:
    await seen_ticks(conn, [2] * 50)
    await seen_ticks(conn, [15])  # the 1e-15 tick of the report
    await seen_ticks(conn, [2, 1, 2, 0, 2] * 10)
    info = await symbol_info(conn)
    assert (info["pricescale"], info["minmov"]) == (100, 1)


async def test_finer_prices_once_common_widen_the_scale(conn: Any) -> None:
    await seen_ticks(conn, [2] * 1000)
    assert (await symbol_info(conn))["pricescale"] == 100
    for _ in range(30):  # the coin fell a hundredfold: its prices have 4 places now
        await seen_ticks(conn, [4] * 1000)
    assert (await symbol_info(conn))["pricescale"] == 10_000


async def test_the_histogram_stays_recent(conn: Any) -> None:
    for _ in range(5):
        await seen_ticks(conn, [3] * (KEEP // 2))
    total = await conn.fetchval("SELECT (SELECT sum(c) FROM unnest(decimal_counts) AS c) FROM symbols")
    assert total <= KEEP + KEEP // 2


async def test_an_explicit_tick_size_wins_stays_and_the_latest_one_counts(conn: Any) -> None:
    await seen_ticks(conn, [2] * 100, tick="0.5")
    assert ((await symbol_info(conn))["pricescale"], (await symbol_info(conn))["minmov"]) == (10, 5)
    await seen_ticks(conn, [6] * 1000)  # later ticks without one keep it
    info = await symbol_info(conn)
    assert (info["pricescale"], info["minmov"]) == (10, 5)
    await seen_ticks(conn, [2], tick="0.01")
    info = await symbol_info(conn)
    assert (info["pricescale"], info["minmov"]) == (100, 1)
