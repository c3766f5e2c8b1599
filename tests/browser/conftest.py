"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, a worker with
a seeded tick log (shared by every browser test of the session: tests that add ticks
use symbols of their own), and a page wrapper that records every request the page
makes and every uncaught error it throws.

Nothing is mocked: the ticks go through Kafka and the bar engine into PostgreSQL, and
the page reads them back through the worker's UDF and SSE endpoints.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import asyncpg
import pytest
from playwright.async_api import Browser, Page, async_playwright

from candleflow.stack import StackInfo
from tests.harness import Names, WorkerFactory, WorkerProcess, create_topics
from tests.harness.databases import fresh_database
from tests.harness.engine import publish, wait_absorbed
from tests.harness.tickgen import generate

REPO = Path(__file__).resolve().parents[2]
DIST_INDEX = REPO / "frontend" / "dist" / "index.html"
ARTIFACTS = REPO / "tests" / "artifacts"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})

#: The symbols of the seeded log: three days of ticks, so the first load (300 bars)
#: holds only part of the 1-minute history.
SYMBOLS = ("Coinbase:BTC/USD", "Kraken:ETH/USD")
SEED_TICKS = 12_000
SEED_DAYS = 3.0
PARTITIONS = 2

#: Generous limits: they exist to fail instead of hanging, not to measure speed.
PAGE_TIMEOUT_MS = 60_000
WORKER_READY_S = 120.0


def require_frontend_build() -> None:
    if not DIST_INDEX.is_file():
        pytest.fail(
            f"{DIST_INDEX.relative_to(REPO)} is missing: run `make frontend` (or `npm ci && npm run build` "
            "in frontend/) before the browser tests"
        )


@dataclass(frozen=True)
class DbBar:
    """A bar as the `bars` table holds it; `time` in unix seconds."""

    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float


#: Functions the market's worker registers beside the defaults (the chart lists them).
FUNCTIONS = "rsi(period=14), bollinger(period=20, width=2)"


@dataclass
class Market:
    """A worker over a test-owned database and topics, with a seeded tick log."""

    stack: StackInfo
    names: Names
    database_url: str
    worker: WorkerProcess
    symbols: Sequence[str]

    async def publish(self, records: Sequence[dict[str, Any]]) -> None:
        """Publish ticks to the ticks topic and wait until the engine has stored them."""
        await publish(self.stack.kafka_bootstrap, self.names.ticks_topic, records)
        await wait_absorbed(self.database_url, self.names.app_id, self.stack.kafka_bootstrap, self.names.ticks_topic)

    async def bars(self, symbol: str, resolution: str, since: int = 0) -> list[DbBar]:
        """The stored bars of a series from `since` (seconds, inclusive), ascending."""
        conn = await asyncpg.connect(self.database_url)
        try:
            rows = await conn.fetch(
                "SELECT extract(epoch from bucket)::bigint AS time, open, high, low, close, volume::float8 AS volume"
                " FROM bars WHERE symbol = $1 AND resolution = $2 AND bucket >= to_timestamp($3)"
                " ORDER BY bucket",
                symbol,
                resolution,
                since,
            )
        finally:
            await conn.close()
        return [DbBar(r["time"], r["open"], r["high"], r["low"], r["close"], r["volume"]) for r in rows]

    async def indicator(
        self, symbol: str, resolution: str, kind: str, period: int, since: int = 0
    ) -> list[tuple[int, float]]:
        """The stored (seconds, value) points of one moving average from `since`, ascending."""
        conn = await asyncpg.connect(self.database_url)
        try:
            rows = await conn.fetch(
                "SELECT extract(epoch from bucket)::bigint AS time, value FROM indicators"
                " WHERE symbol = $1 AND resolution = $2 AND kind = $3 AND period = $4 AND bucket >= to_timestamp($5)"
                " ORDER BY bucket",
                symbol,
                resolution,
                kind,
                period,
                since,
            )
        finally:
            await conn.close()
        return [(int(r["time"]), float(r["value"])) for r in rows]

    async def latest_bar(self, symbol: str, resolution: str) -> DbBar:
        conn = await asyncpg.connect(self.database_url)
        try:
            r = await conn.fetchrow(
                "SELECT extract(epoch from bucket)::bigint AS time, open, high, low, close, volume::float8 AS volume"
                " FROM bars WHERE symbol = $1 AND resolution = $2 ORDER BY bucket DESC LIMIT 1",
                symbol,
                resolution,
            )
        finally:
            await conn.close()
        assert r is not None, f"no {resolution} bars of {symbol} in the database"
        return DbBar(r["time"], r["open"], r["high"], r["low"], r["close"], r["volume"])

    async def count(self, symbol: str, resolution: str) -> int:
        conn = await asyncpg.connect(self.database_url)
        try:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM bars WHERE symbol = $1 AND resolution = $2", symbol, resolution
                )
            )
        finally:
            await conn.close()


@dataclass
class ChartPage:
    """One browser tab on the chart, recording requests and uncaught errors."""

    page: Page
    base_url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: Console errors and warnings (a failed fetch shows here too), as `type: text`.
    console: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "console",
            lambda message: (
                self.console.append(f"{message.type}: {message.text}") if message.type in ("error", "warning") else None
            ),
        )

    async def open(self, symbol: str, resolution: str) -> None:
        """Open `/?symbol=…&resolution=…` and wait until the chart is loaded and live."""
        require_frontend_build()
        query = urlencode({"symbol": symbol, "resolution": resolution})
        await self.page.goto(f"{self.base_url}/?{query}", timeout=PAGE_TIMEOUT_MS)
        await self.page.wait_for_function("() => window.__candleflow !== undefined", timeout=PAGE_TIMEOUT_MS)
        await self.wait_live()

    async def wait_state(self, *states: str, timeout_ms: int = PAGE_TIMEOUT_MS) -> str:
        """Wait until the connection element shows one of `states`; return it."""
        selector = ", ".join(f'[data-testid="conn-state"][data-state="{state}"]' for state in states)
        try:
            element = await self.page.wait_for_selector(selector, timeout=timeout_ms)
        except Exception as exc:
            current = await self.page.get_attribute('[data-testid="conn-state"]', "data-state")
            raise AssertionError(f"connection state never became {states}; it is {current!r}") from exc
        assert element is not None
        return str(await element.get_attribute("data-state"))

    async def wait_live(self) -> None:
        """Live, and no full load in flight (a reload after a reset counts as one)."""
        await self.wait_until(
            "() => { const h = window.__candleflow; if (h === undefined) return false;"  # a page still loading
            " const s = h.snapshot(); return s.connection === 'live' && !s.loading; }",
            what="chart live with its history loaded",
        )
        await self.page.evaluate("() => window.__candleflow.ready()")

    async def wait_until(
        self, predicate: str, arg: Any = None, *, what: str, timeout_ms: int = PAGE_TIMEOUT_MS
    ) -> None:
        """Poll a JavaScript predicate `(arg) => boolean` in the page."""
        try:
            await self.page.wait_for_function(predicate, arg=arg, timeout=timeout_ms, polling=100)
        except Exception as exc:
            snapshot = await self.snapshot()
            raise AssertionError(f"timed out waiting for {what}; chart snapshot {json.dumps(snapshot)}") from exc

    async def bars(self) -> list[dict[str, float]]:
        result: list[dict[str, float]] = await self.page.evaluate("() => window.__candleflow.bars()")
        return result

    async def last_bar(self) -> dict[str, float]:
        result: dict[str, float] | None = await self.page.evaluate("() => window.__candleflow.lastBar() ?? null")
        assert result is not None, "the chart holds no bars"
        return result

    async def snapshot(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.page.evaluate("() => window.__candleflow?.snapshot() ?? {}")
        return result

    async def toggle(self, testid: str) -> None:
        """Click a switch of the toolbar's indicator menu (`indicator-sma20`, `marks-toggle`),
        opening the menu first as a user does."""
        if await self.page.is_hidden('[data-testid="indicator-toggles"]'):
            await self.page.click('[data-testid="indicator-menu"]')
        await self.page.click(f'[data-testid="{testid}"]')

    async def screenshot(self, name: str) -> Path:
        path = ARTIFACTS / name
        await self.page.screenshot(path=str(path))
        return path

    def foreign_requests(self) -> list[str]:
        """Requests whose host is not this machine's loopback."""
        return [url for url in self.requests if urlsplit(url).hostname not in LOCAL_HOSTS]

    def assert_clean(self) -> None:
        """No request left localhost and the page threw nothing."""
        assert self.requests, "the page made no requests at all"
        assert not self.foreign_requests(), f"requests left localhost: {self.foreign_requests()}"
        assert not self.errors, f"uncaught errors in the page: {self.errors}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """`tests/artifacts/` (git-ignored): screenshots of the chart."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium; Playwright's own download is never used."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: str, artifacts: Path) -> AsyncIterator[Browser]:
    """Headless Chromium for the session; each test gets its own context."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="session")
def browser_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerFactory]:
    factory = WorkerFactory(Path(tmp_path_factory.mktemp("browser-workers")))
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
async def market_database(stack: StackInfo) -> AsyncIterator[str]:
    """A fresh, migrated database for the session's market; dropped afterwards."""
    async with fresh_database(stack, prefix="test_browser") as url:
        yield url


@pytest.fixture(scope="session")
async def market(stack: StackInfo, market_database: str, browser_workers: WorkerFactory) -> Market:
    """A worker whose engine has absorbed three days of ticks of `SYMBOLS`."""
    names = Names.fresh()
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: PARTITIONS})
    env = names.env(
        stack,
        market_database,
        CANDLEFLOW_TICKS_PARTITIONS=str(PARTITIONS),
        CANDLEFLOW_FUNCTIONS=FUNCTIONS,
    )
    worker = browser_workers.start(env)
    ticks = generate(SEED_TICKS, symbols=SYMBOLS, days=SEED_DAYS, seed=17)
    await publish(stack.kafka_bootstrap, names.ticks_topic, ticks)
    await asyncio.to_thread(worker.wait_ready, WORKER_READY_S)
    await wait_absorbed(market_database, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    return Market(stack, names, market_database, worker, SYMBOLS)


@pytest.fixture
async def chart(browser: Browser, market: Market) -> AsyncIterator[ChartPage]:
    """A fresh browser context (no cache, no storage) with one page on the market's worker."""
    context = await browser.new_context(viewport={"width": 1280, "height": 720}, color_scheme="light")
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        page = await context.new_page()
        yield ChartPage(page, market.worker.url)
    finally:
        await context.close()
