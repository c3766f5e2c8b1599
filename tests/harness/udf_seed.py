"""Shared set-up of the web tests: a database seeded with bars built by
the independent reference aggregation, and a worker serving it.

Bars, indicators and marks are inserted with plain SQL from `tests.harness.reference`,
so the web layer is checked against data that does not come from the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from candleflow.domain.bars import BAR_FIELDS
from candleflow.stack import StackInfo
from tests.harness import Names, WorkerFactory, WorkerProcess
from tests.harness.databases import create_database
from tests.harness.reference import BarKey, LogTick, RefBar, reference_bars, reference_indicators

#: 2024-01-01T00:00Z, a Monday: every resolution's buckets are easy to reason about.
T0_MS = 1_704_067_200_000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
PERIODS = (20, 50, 200)
CROSSOVER = (20, 50)

SYMBOLS = {
    # symbol: price decimals
    "Coinbase:BTC/USD": 2,
    "Kraken:ETH/USD": 1,
    "Binance:DOGE/USDT": 5,
}


def make_ticks() -> list[LogTick]:
    """Deterministic ticks with clusters and gaps over ~100 days for the first symbol,
    and a little for the others. Clusters: every 7th day, 2 hours of a tick every 9 s."""
    ticks: list[LogTick] = []
    seq = 0
    for day in range(0, 100, 7):
        start = T0_MS + day * DAY_MS + 10 * HOUR_MS
        for i in range(800):
            ts = start + i * 9_000 + (i * 7919) % 1000
            price = round(40_000 + 500 * ((i * 37 + day * 11) % 97) / 97 + day * 10, 2)
            qty = round(0.001 * (1 + (i * 13) % 50), 4)
            ticks.append(LogTick("Coinbase:BTC/USD", ts, price, qty, seq))
            seq += 1
    for i in range(600):
        ts = T0_MS + 30 * DAY_MS + i * 61_000
        ticks.append(LogTick("Kraken:ETH/USD", ts, round(2_300 + (i % 40) * 0.5, 1), 0.25, seq))
        seq += 1
    for i in range(50):
        ticks.append(LogTick("Binance:DOGE/USDT", T0_MS + 60 * DAY_MS + i * 1_000, 0.08123 + i * 1e-5, 100.0, seq))
        seq += 1
    return ticks


@dataclass
class Seeded:
    database_url: str
    ticks: list[LogTick]
    bars: dict[BarKey, RefBar]
    indicators: dict[tuple[str, str, str, int, int], float]
    marks: dict[tuple[str, str, int], str]


def _ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


async def insert_bars(url: str, bars: dict[BarKey, RefBar]) -> None:
    rows = [
        (s, code, _ts(bucket), b.open, b.high, b.low, b.close, b.volume, b.trades, bucket, 0, bucket, 0)
        for (s, code, bucket), b in bars.items()
    ]
    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table(
            "bars",
            records=rows,
            columns=["symbol", "resolution", "bucket", *BAR_FIELDS],
        )
    finally:
        await conn.close()


async def insert_symbols(url: str, ticks: Iterable[LogTick], decimals: dict[str, int]) -> None:
    spans: dict[str, tuple[int, int]] = {}
    for t in ticks:
        first, last = spans.get(t.symbol, (t.ts, t.ts))
        spans[t.symbol] = (min(first, t.ts), max(last, t.ts))
    conn = await asyncpg.connect(url)
    try:
        for symbol, (first, last) in spans.items():
            exchange, pair = symbol.split(":")
            base, quote = pair.split("/")
            await conn.execute(
                "INSERT INTO symbols VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                symbol,
                exchange,
                base,
                quote,
                decimals.get(symbol, 2),
                _ts(first),
                _ts(last),
            )
    finally:
        await conn.close()


async def seed(stack: StackInfo) -> Seeded:
    url = await create_database(stack, prefix="web")
    ticks = make_ticks()
    bars = reference_bars(ticks)
    values, marks = reference_indicators(bars, PERIODS, CROSSOVER)
    await insert_symbols(url, ticks, SYMBOLS)
    await insert_bars(url, bars)
    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table(
            "indicators",
            records=[(s, c, k, p, _ts(b), v) for (s, c, k, p, b), v in values.items()],
            columns=["symbol", "resolution", "kind", "period", "bucket", "value"],
        )
        close = {key: bar.close for key, bar in bars.items()}
        signal = "crossover(fast={},slow={})".format(*CROSSOVER)
        style = {"golden_cross": ("G", "up", "above"), "death_cross": ("D", "down", "below")}
        await conn.copy_records_to_table(
            "marks",
            records=[
                (s, c, _ts(b), signal, kind, label, f"SMA{CROSSOVER[0]} crossed {way}", tone, close[(s, c, b)])
                for (s, c, b), kind in marks.items()
                for label, tone, way in [style[kind]]
            ],
            columns=["symbol", "resolution", "bucket", "signal", "kind", "label", "text", "tone", "price"],
        )
    finally:
        await conn.close()
    return Seeded(url, ticks, bars, values, marks)


def start_worker(factory: WorkerFactory, stack: StackInfo, url: str, **extra: object) -> tuple[WorkerProcess, Names]:
    names = Names.fresh()
    worker = factory.start(names.env(stack, url, **extra))
    worker.wait_ready(timeout=90)
    return worker, names
