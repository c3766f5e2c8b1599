"""Live bars in the browser over one SSE connection: eight charts on one page, and a
feed whose ticks often arrive late, corrected in place without refetching history.

Real Chromium on a real worker (Kafka, the engine, PostgreSQL); what the charts hold is
compared with the `bars` table and with `/udf/history`.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import pytest
from playwright.async_api import Browser

from tests.browser.conftest import PAGE_TIMEOUT_MS, ChartPage, Market, require_frontend_build
from tests.browser.test_chart import assert_same_bars
from tests.harness.engine import publish, wait_absorbed
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SYMBOL = "Coinbase:BTC/USD"
GRID = [(symbol, res) for symbol in ("Coinbase:BTC/USD", "Kraken:ETH/USD") for res in ("1S", "1", "5", "60")]


def streams_requests(chart: ChartPage) -> list[str]:
    """The stream connections the page opened (not the subscribe requests on one)."""
    return [url for url in chart.requests if urlsplit(url).path in ("/udf/stream", "/udf/streams")]


async def test_eight_charts_on_one_page_hold_one_stream_and_all_go_live(browser: Browser, market: Market) -> None:
    require_frontend_build()
    context = await browser.new_context(viewport={"width": 1600, "height": 1300})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        chart = ChartPage(await context.new_page(), market.worker.url)
        charts = ",".join(f"{symbol}|{resolution}" for symbol, resolution in GRID)
        await chart.page.goto(f"{market.worker.url}/grid?charts={quote(charts)}", timeout=PAGE_TIMEOUT_MS)
        await chart.page.wait_for_function(
            "(n) => { const g = window.__candleflowGrid; return g !== undefined && g.snapshots().length === n"
            " && g.snapshots().every((s) => s.connection === 'live' && !s.loading); }",
            arg=len(GRID),
            timeout=PAGE_TIMEOUT_MS,
            polling=100,
        )
        # one tick per symbol, now, at a price no chart has shown
        now_ms = int(time.time() * 1000)
        prices = {symbol: 90_000.0 + n + 0.37 for n, symbol in enumerate({s for s, _ in GRID})}
        await market.publish([{"symbol": s, "ts": now_ms, "price": p, "qty": 0.01} for s, p in prices.items()])
        expected = [prices[symbol] for symbol, _ in GRID]
        await chart.page.wait_for_function(
            "(closes) => closes.every((close, i) => { const bars = window.__candleflowGrid.bars(i);"
            " return bars.length > 0 && bars[bars.length - 1].close === close; })",
            arg=expected,
            timeout=PAGE_TIMEOUT_MS,
            polling=100,
        )
        opened = streams_requests(chart)
        assert len(opened) == 1, f"the page opened {len(opened)} stream connections: {opened}"
        assert "/udf/streams?" in opened[0]
        # charts that subscribed after the stream opened joined it with a request, no new connection
        assert any(urlsplit(url).path.endswith("/subscribe") for url in chart.requests)
        assert await chart.page.evaluate("() => window.__candleflowGrid.streamsOpened()") == 1
        chart.assert_clean()
    finally:
        await context.close()


async def _late_feed(market: Market, seconds: float, rate: float, seed: int) -> int:
    """Ticks at `rate` per second for `seconds`, one in ten 1 to 3 s late; returns how many were late."""
    rng = random.Random(seed)
    late = 0
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        now_ms = int(time.time() * 1000)
        ts = now_ms
        if rng.random() < 0.1:
            ts -= rng.randint(1000, 3000)
            late += 1
        price = round(95_000 + rng.uniform(-50, 50), 2)
        tick = {"symbol": SYMBOL, "ts": ts, "price": price, "qty": round(rng.uniform(0.01, 1), 4), "id": f"late-{n}"}
        await publish(market.stack.kafka_bootstrap, market.names.ticks_topic, [tick])
        n += 1
        await asyncio.sleep(1 / rate)
    return late


async def test_late_ticks_at_one_second_are_corrected_in_place(chart: ChartPage, market: Market) -> None:
    await chart.open(SYMBOL, "1S")
    history_before = sum("/udf/history" in url for url in chart.requests)
    late = await _late_feed(market, seconds=30, rate=8, seed=15)
    await wait_absorbed(
        market.database_url, market.names.app_id, market.stack.kafka_bootstrap, market.names.ticks_topic
    )
    latest = await market.latest_bar(SYMBOL, "1S")
    await chart.wait_until(
        "([time, close]) => { const b = window.__candleflow.lastBar();"
        " return b !== undefined && b.time === time && b.close === close; }",
        [latest.time, latest.close],
        what="the chart's last bar to equal the stored one",
    )

    async def quiet() -> list[dict[str, Any]]:
        """The chart's bars, once they equal the stored ones (every correction applied)."""
        shown = await chart.bars()
        stored = await market.bars(SYMBOL, "1S", since=int(shown[0]["time"]))
        assert_same_bars(shown, stored, "1-second bars after a feed with late ticks")
        return shown

    shown = await eventually(quiet, 30, what="the chart equals the database", ignoring=(AssertionError,))
    params: dict[str, Any] = {"symbol": SYMBOL, "resolution": "1S", "from": int(shown[0]["time"])}
    params["to"] = latest.time + 1
    async with aiohttp.ClientSession() as session, session.get(f"{market.worker.url}/udf/history", params=params) as r:
        history = await r.json()
    assert [int(b["time"]) for b in shown] == history["t"][-len(shown) :]
    assert [b["close"] for b in shown] == history["c"][-len(shown) :]
    snapshot = await chart.snapshot()
    refetches = sum("/udf/history" in url for url in chart.requests) - history_before
    assert late >= 10 and snapshot["corrections"] >= 5, (late, snapshot)
    assert refetches <= 3, f"{refetches} history requests during the feed ({late} late ticks)"
    assert len(streams_requests(chart)) == 1
    chart.assert_clean()
