"""A dead feed does not look live: a worker whose Kraken feed cannot reach its server
(CANDLEFLOW_KRAKEN_WS_URL / _REST_URL on a closed local port) shows its bars with the
badge saying "feed down", the client's reason as its title, instead of "live"."""

from __future__ import annotations

import asyncio
import time

import pytest
from playwright.async_api import Browser

from candleflow.stack import StackInfo
from candleflow.stack.ports import free_port
from tests.browser.conftest import PAGE_TIMEOUT_MS, WORKER_READY_S, require_frontend_build
from tests.harness import Names, WorkerFactory, create_topics
from tests.harness.engine import publish, wait_absorbed

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SYMBOL = "Kraken:BTC/USD"


async def test_the_badge_says_the_feed_is_down(
    browser: Browser, stack: StackInfo, database_url: str, names: Names, worker_factory: WorkerFactory
) -> None:
    require_frontend_build()
    closed = free_port()  # nothing listens there
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 1})
    now = int(time.time() * 1000)
    await publish(
        stack.kafka_bootstrap,
        names.ticks_topic,
        [
            {"symbol": SYMBOL, "ts": now - 60_000 * i, "price": 97_000.0 + i, "qty": 0.1, "id": str(i)}
            for i in range(30)
        ],
    )
    worker = worker_factory.start(
        names.env(
            stack,
            database_url,
            CANDLEFLOW_TICKS_PARTITIONS="1",
            CANDLEFLOW_SOURCE="kraken:BTC/USD",
            CANDLEFLOW_KRAKEN_WS_URL=f"ws://127.0.0.1:{closed}/v2",
            CANDLEFLOW_KRAKEN_REST_URL=f"http://127.0.0.1:{closed}",
            CANDLEFLOW_FEED_DOWN_AFTER="1",
        )
    )
    await asyncio.to_thread(worker.wait_ready, WORKER_READY_S)
    await wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        page = await context.new_page()
        await page.goto(f"{worker.url}/?symbol={SYMBOL}&resolution=1")
        badge = await page.wait_for_selector('[data-testid="conn-state"][data-state="feed-down"]')
        assert badge is not None
        assert (await badge.text_content()) == "feed down"
        title = await badge.get_attribute("title") or ""
        assert "kraken Kraken:BTC/USD" in title and "connect" in title.lower(), title
        snapshot = await page.evaluate("() => window.__candleflow.snapshot()")
        assert snapshot["connection"] == "live", "the stream itself is up: only the feed is down"
        assert snapshot["bars"] >= 30
    finally:
        await context.close()
