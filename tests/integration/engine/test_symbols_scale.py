"""From the wire to the symbols table: what the engine's ticks tell pricescale."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from candleflow.core.settings import Settings
from tests.harness import engine as harness
from tests.harness.inprocess import running_worker
from tests.harness.kafka import create_topics
from tests.harness.tickgen import generate

pytestmark = pytest.mark.integration


async def test_one_outlier_does_not_set_the_scale_and_a_tick_size_on_the_wire_does(
    stack: Any, names: Any, database_url: str
) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 1, names.dead_topic: 1, names.updates_topic: 1})
    env = names.env(stack, database_url, CANDLEFLOW_TICKS_PARTITIONS="1")
    ticks: list[dict[str, Any] | bytes] = [
        {**tick, "tick_size": "0.05"} if tick["symbol"] == "Kraken:ETH/USD" else tick
        for tick in generate(400, days=0.1, seed=9, symbols=("Coinbase:BTC/USD", "Kraken:ETH/USD"))
    ]
    btc = next(t for t in ticks if isinstance(t, dict) and t["symbol"] == "Coinbase:BTC/USD")
    ticks.insert(200, {**btc, "price": 1e-15})  # one outlier: 15 places
    async with running_worker(Settings.from_env(env), database_url, 1):
        await harness.publish(stack.kafka_bootstrap, names.ticks_topic, ticks)
        await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    conn = await asyncpg.connect(database_url)
    try:
        rows = {
            r["symbol"]: (r["price_decimals"], r["tick_minmov"])
            for r in await conn.fetch("SELECT symbol, price_decimals, tick_minmov FROM symbols")
        }
    finally:
        await conn.close()
    assert rows == {"Coinbase:BTC/USD": (2, None), "Kraken:ETH/USD": (2, 5)}
