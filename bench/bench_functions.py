"""User-defined functions benchmark: the engine's ticks/s with RSI, VWAP and Bollinger
bands registered next to the defaults, beside the engine with the defaults only, in the
same run on the same database server.

The engine runs in-process (`BarEngine.process`, one transaction per batch of
`CANDLEFLOW_BATCH_MAX` ticks — the batches a worker makes when ticks pile up — on the
real PostgreSQL; no Kafka, so the figure is the engine's own cost, which is what
functions add to). Runs alternate between the two configurations, each on a fresh
database.

    python -m bench.run_all --only functions
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Sequence

from bench.bench_engine import fresh_database, tick_records
from bench.common import Figure, median
from candleflow.core import collector
from candleflow.core.settings import Settings
from candleflow.domain.updates import BarUpdate
from candleflow.engine.bar_engine import BarEngine
from candleflow.functions.registry import FunctionSet, load
from candleflow.kafka.log_reader import Record
from candleflow.stack import StackInfo
from candleflow.store.database import Database

PARTITIONS = 4
BATCH = Settings().batch_max
EXTRA = "rsi(period=14),vwap(period=20),bollinger(period=20,width=2)"


class NullSink:
    async def dead_letters(self, records: Sequence[tuple[bytes | None, bytes]]) -> None:
        return None

    async def bar_updates(self, updates: Sequence[BarUpdate]) -> None:
        return None


def as_records(count: int) -> list[Record]:
    """`count` ticks as the ticks topic holds them: keyed by symbol, offsets per partition."""
    offsets = [0] * PARTITIONS
    records = []
    for key, value in tick_records(count):
        partition = zlib.crc32(key) % PARTITIONS
        records.append(Record(partition, offsets[partition], key, value))
        offsets[partition] += 1
    return records


async def engine_seconds(info: StackInfo, records: Sequence[Record], functions: FunctionSet) -> float:
    """Seconds for one engine to absorb `records` in batches, on a fresh database."""
    url = await fresh_database(info)
    database = await Database(url, 2).connected()
    try:
        settings = Settings(database_url=url, future_tolerance=1e9)
        engine = BarEngine(settings, database, NullSink(), functions=functions)
        started = time.perf_counter()
        for start in range(0, len(records), BATCH):
            await engine.process(records[start : start + BATCH])
        return time.perf_counter() - started
    finally:
        await database.close()


async def run(info: StackInfo, ticks: int = 500_000, repeats: int = 3) -> list[Figure]:
    records = as_records(ticks)
    collector.settle()  # the worker's collector settings: see candleflow.core.collector
    conf = Settings()
    defaults = load("", conf.ma_periods, conf.crossover)
    extended = load(EXTRA, conf.ma_periods, conf.crossover)
    with_functions: list[float] = []
    without: list[float] = []
    for _ in range(repeats):
        without.append(ticks / await engine_seconds(info, records, defaults))
        with_functions.append(ticks / await engine_seconds(info, records, extended))
    return [
        Figure("functions", "engine ticks/s with RSI, VWAP, Bollinger", median(with_functions), "ticks/s",
               "defaults only (SMA/EMA 20/50/200, crossover)", median(without), ">= 0.8x", with_functions, without),
    ]  # fmt: skip


def scenario(info: StackInfo, quick: bool) -> list[Figure]:
    """The `functions` scenario of `bench.run_all`."""
    return asyncio.run(run(info, ticks=150_000 if quick else 500_000, repeats=1 if quick else 3))


if __name__ == "__main__":
    raise SystemExit("run it through the suite: python -m bench.run_all --only functions")
