"""The chart as a newcomer meets it: every button leads somewhere, every mistake is said in
the page with a way forward, nothing of a previous chart lingers, and one spelling of a
resolution means one thing in the toolbar, the URL and the API.

Real Chromium on the session's market worker; each test adds ticks only to symbols of
its own. Screenshots land in `tests/artifacts/` (each was looked at when the test was
written; the assertions hold what was seen).
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext

from candleflow.domain.resolution import SPELLINGS, SUPPORTED_CODES
from candleflow.stack import StackInfo
from tests.browser.conftest import PAGE_TIMEOUT_MS, REPO, WORKER_READY_S, ChartPage, Market, require_frontend_build
from tests.harness import Names, WorkerFactory, create_topics
from tests.harness.engine import publish, wait_absorbed
from tests.harness.tickgen import generate

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SYMBOL = "Coinbase:BTC/USD"
DIST = REPO / "frontend" / "dist"


async def new_context(browser: Browser, width: int = 1280, height: int = 720) -> BrowserContext:
    context = await browser.new_context(viewport={"width": width, "height": height}, color_scheme="light")
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    return context


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        return answer.status, answer.headers.get("Content-Type", ""), await answer.text()


async def test_every_page_of_the_build_is_served_and_reached_by_a_link(browser: Browser, market: Market) -> None:
    """The toolbar's TV button used to answer 404 although tv.html was built."""
    require_frontend_build()
    base = market.worker.url
    pages = sorted(path.name for path in DIST.glob("*.html"))
    assert {"index.html", "grid.html", "tv.html"} <= set(pages)
    for name in pages:
        status, kind, _ = await get(f"{base}/{name}")
        assert (status, kind.split(";")[0]) == (200, "text/html"), f"/{name} answers {status} {kind}"

    # Follow every link from the chart, as a user clicking around would.
    context = await new_context(browser)
    try:
        chart = ChartPage(await context.new_page(), base)
        await chart.open(SYMBOL, "1")
        seen: set[str] = set()
        queue = [f"{base}/?symbol={quote(SYMBOL)}&resolution=1"]
        while queue:
            url = queue.pop()
            await chart.page.goto(url)
            hrefs: list[str] = await chart.page.eval_on_selector_all("a[href]", "(links) => links.map((a) => a.href)")
            for href in hrefs:
                target = urljoin(url, href)
                if urlsplit(target).netloc != urlsplit(base).netloc:
                    continue
                status, kind, _ = await get(target)
                assert status == 200, f"{url} links to {target}, which answers {status}"
                path = urlsplit(target).path
                page = "index.html" if path == "/" else "grid.html" if path == "/grid" else path.lstrip("/")
                if kind.startswith("text/html") and page not in seen:
                    seen.add(page)
                    queue.append(target)
        assert set(pages) <= seen, f"pages no link leads to: {set(pages) - seen}"

        # The TV button: the Charting Library page, explaining itself when the library is absent.
        await chart.page.goto(f"{base}/?symbol={quote(SYMBOL)}&resolution=1")
        await chart.page.click('[data-testid="tv-link"]')
        await chart.page.wait_for_url("**/tv.html")
        if (DIST / "charting_library" / "charting_library.standalone.js").is_file():
            await chart.page.wait_for_selector('[data-testid="tv-chart"]')
        else:
            missing = await chart.page.wait_for_selector('[data-testid="tv-missing"]', state="visible")
            assert missing is not None
            assert "The Charting Library is not installed" in (await missing.text_content() or "")
        await chart.screenshot("tv-page.png")
        assert not chart.errors, chart.errors
    finally:
        await context.close()


async def test_a_grid_without_charts_explains_itself_and_offers_the_servers_grids(
    browser: Browser, market: Market
) -> None:
    context = await new_context(browser)
    try:
        chart = ChartPage(await context.new_page(), market.worker.url)
        await chart.page.goto(f"{market.worker.url}/grid")
        intro = await chart.page.wait_for_selector('[data-testid="grid-intro"]', state="visible")
        assert intro is not None
        text = await intro.text_content() or ""
        assert "/grid?charts=<symbol>|<resolution>" in text
        examples = chart.page.locator('[data-testid="grid-examples"] a')
        await examples.first.wait_for()
        await chart.screenshot("grid-intro.png")
        await examples.first.click()
        await chart.page.wait_for_function(
            "() => { const g = window.__candleflowGrid; return g !== undefined && g.snapshots().length > 1"
            " && g.snapshots().every((s) => s.connection === 'live' && !s.loading); }",
            timeout=PAGE_TIMEOUT_MS,
        )
        symbols = {s["symbol"] for s in await chart.page.evaluate("() => window.__candleflowGrid.snapshots()")}
        assert set(market.symbols) <= symbols
        assert not chart.errors, chart.errors
    finally:
        await context.close()


async def test_a_grid_says_in_each_cell_what_is_wrong_and_how_to_fix_it(browser: Browser, market: Market) -> None:
    """An unknown symbol used to be an empty cell with a hover tooltip, `|7` a chart dropped
    without a word."""
    specs = ["Bogus:X/Y|1", f"{SYMBOL}|7", f"{market.symbols[1]}|1m", f"{SYMBOL}|5"]
    context = await new_context(browser, 1400, 800)
    try:
        chart = ChartPage(await context.new_page(), market.worker.url)
        await chart.page.goto(f"{market.worker.url}/grid?charts={quote(','.join(specs))}")
        notes = [chart.page.locator(f'[data-testid="chart-{i}-note"]') for i in range(len(specs))]
        await notes[0].locator("a").first.wait_for()
        assert "unknown symbol Bogus:X/Y" in (await notes[0].text_content() or "")
        assert "resolution '7' is not supported; supported: 1S, 1, 5" in (await notes[1].text_content() or "")
        assert await notes[1].get_by_role("link", name=f"use {SYMBOL}|5").count() == 1, "the nearest served"
        ambiguous = await notes[2].text_content() or ""
        assert "resolution '1m' is ambiguous: minutes are plain numbers, 1; a month is 1M" in ambiguous
        assert await notes[3].is_hidden()
        await chart.page.wait_for_function(
            "() => window.__candleflowGrid?.snapshots().some((s) => s.resolution === '5' && s.connection === 'live')"
        )
        await chart.screenshot("grid-problems.png")

        # The ambiguous cell's fix: the same symbol at one minute.
        await notes[2].get_by_text(f"use {market.symbols[1]}|1").click()
        await chart.page.wait_for_function(
            "(symbol) => window.__candleflowGrid?.snapshots().some((s) => s.symbol === symbol"
            " && s.resolution === '1' && s.connection === 'live')",
            arg=market.symbols[1],
        )
        charts = parse_qs(urlsplit(chart.page.url).query)["charts"][0].split(",")
        assert charts == [specs[0], specs[1], f"{market.symbols[1]}|1", specs[3]]
    finally:
        await context.close()


async def test_an_unknown_symbol_leaves_nothing_of_the_previous_one_and_offers_others(
    chart: ChartPage, market: Market
) -> None:
    await chart.open(SYMBOL, "1")
    page = chart.page
    assert SYMBOL in (await page.text_content('[data-testid="legend"]') or "")
    await page.fill('[data-testid="symbol-input"]', "Bogus:BTC/XYZ")
    await page.press('[data-testid="symbol-input"]', "Enter")
    status = page.locator('[data-testid="status"]')
    suggestion = status.get_by_role("link", name=SYMBOL, exact=True)
    await suggestion.wait_for()

    assert "unknown symbol Bogus:BTC/XYZ" in (await status.text_content() or "")
    legend = await page.text_content('[data-testid="legend"]') or ""
    assert "Bogus:BTC/XYZ" in legend and SYMBOL not in legend and " H " not in legend, legend
    assert (await page.text_content('[data-testid="last-price"]') or "") == ""
    assert not (await page.title()).startswith(tuple("0123456789")), await page.title()
    # The server answered: the badge must not say it is offline.
    assert await page.get_attribute('[data-testid="conn-state"]', "data-state") == "idle"
    await chart.screenshot("unknown-symbol.png")

    await suggestion.click()
    await chart.wait_live()
    assert (await chart.snapshot())["symbol"] == SYMBOL
    assert await page.is_hidden('[data-testid="status"]')


async def test_a_resolution_is_spelled_one_way_in_the_toolbar_the_url_and_the_api(
    chart: ChartPage, market: Market
) -> None:
    await chart.open(SYMBOL, "1")
    page = chart.page
    buttons = await page.eval_on_selector_all(
        '[data-testid="resolution-switcher"] button', "(bs) => bs.map((b) => b.textContent)"
    )
    assert buttons == list(SUPPORTED_CODES), "the toolbar shows what the URL and the API take"
    await page.click('[data-testid="resolution-60"]')
    await chart.wait_until("() => window.__candleflow.snapshot().resolution === '60'", what="the hourly chart")
    assert parse_qs(urlsplit(page.url).query)["resolution"] == ["60"]
    _, _, spec = await get(f"{market.worker.url}/openapi.json")
    enums = {
        tuple(p["schema"].get("enum", ()))
        for path in json.loads(spec)["paths"].values()
        for operation in path.values()
        for p in operation.get("parameters", [])
        if p["name"] == "resolution"
    }
    assert enums == {tuple(SPELLINGS)}, "/openapi.json lists exactly the accepted spellings"

    # What the toolbar used to call one minute: the API refuses it, and so does the link.
    status, _, body = await get(
        f"{market.worker.url}/udf/history?symbol={quote(SYMBOL)}&resolution=1m&from=0&to={int(time.time())}"
    )
    errmsg = json.loads(body)["errmsg"]
    assert status == 400 and errmsg == "resolution '1m' is ambiguous: minutes are plain numbers, `1`; a month is `1M`"
    await page.goto(f"{market.worker.url}/?symbol={quote(SYMBOL)}&resolution=1m")
    await chart.wait_live()
    shown = await page.text_content('[data-testid="status"]') or ""
    assert errmsg.replace("`", "") in shown and "showing 1 (1 minute)" in shown, shown
    assert parse_qs(urlsplit(page.url).query)["resolution"] == ["1"]
    assert (await chart.snapshot())["resolution"] == "1"
    await chart.screenshot("resolution-1m-refused.png")


async def test_the_toolbar_stays_one_row_with_every_indicator_on_and_marks_can_be_hidden(
    browser: Browser, market: Market
) -> None:
    context = await new_context(browser, 1400, 800)
    try:
        chart = ChartPage(await context.new_page(), market.worker.url)
        await chart.open(SYMBOL, "5")
        page = chart.page
        assert await page.evaluate("() => window.__candleflow.markers().length") > 0
        ids = await page.eval_on_selector_all(
            '[data-testid="indicator-toggles"] button[data-indicator]', "(bs) => bs.map((b) => b.dataset.indicator)"
        )
        assert "rsi14" in ids and any(i.startswith("bollinger") for i in ids)
        for line in ids:
            if not await page.evaluate("(id) => window.__candleflow.lines()[id].visible", line):
                await chart.toggle(f"indicator-{line}")
        await chart.toggle("marks-toggle")
        await page.keyboard.press("Escape")
        await chart.wait_until(
            "(n) => Object.values(window.__candleflow.lines()).filter((l) => l.visible).length === n"
            " && window.__candleflow.markers().length === 0",
            len(ids),
            what="every line on and the marks hidden",
        )
        tops = await page.eval_on_selector_all(
            "header.toolbar > *", "(els) => els.map((e) => Math.round(e.getBoundingClientRect().top))"
        )
        heights = await page.eval_on_selector_all(
            "header.toolbar > *", "(els) => els.map((e) => Math.round(e.getBoundingClientRect().height))"
        )
        assert max(tops) - min(tops) < max(heights), f"the toolbar wraps at 1400 px: tops {tops}"
        await chart.screenshot("toolbar-all-indicators.png")

        # Both toggles are in the link: reopening it shows the same chart.
        query = parse_qs(urlsplit(page.url).query)
        assert query["marks"] == ["off"] and set(query["lines"][0].split(" ")) == set(ids)
        await page.reload()
        await chart.wait_live()
        assert await page.evaluate("() => window.__candleflow.marksShown()") is False
        assert await page.get_attribute('[data-testid="marks-toggle"]', "aria-pressed") == "false"
        lines = await page.evaluate("() => window.__candleflow.lines()")
        assert all(lines[i]["visible"] for i in ids)
        assert await page.evaluate("() => window.__candleflow.markers().length") == 0
        await chart.toggle("marks-toggle")
        await chart.wait_until("() => window.__candleflow.markers().length > 0", what="the marks shown again")
        assert "marks" not in parse_qs(urlsplit(page.url).query)
        assert not chart.errors, chart.errors
    finally:
        await context.close()


async def test_few_bars_are_spread_over_the_canvas(chart: ChartPage, market: Market) -> None:
    """Three daily bars used to sit against the right edge of an empty canvas; one bar too."""
    now_ms = int(time.time() * 1000)
    day = 86_400_000
    noon = now_ms // day * day - day // 2  # yesterday, 12:00 UTC
    few, one = "Fewdays:ABC/USD", "Onebar:XYZ/USD"
    ticks = [
        {"symbol": few, "ts": noon - d * day + 60_000 * i, "price": 100.0 + d + i, "qty": 1.0, "id": f"f{d}-{i}"}
        for d in range(3)
        for i in range(5)
    ]
    ticks.append({"symbol": one, "ts": now_ms - 3_600_000, "price": 42.0, "qty": 2.0, "id": "one-1"})
    await market.publish(ticks)
    for symbol, resolution, count in ((few, "1D", 3), (one, "1D", 1), (one, "1S", 1)):
        await chart.open(symbol, resolution)
        assert len(await chart.bars()) == count
        shown = await chart.page.evaluate("() => window.__candleflow.visibleRange()")
        middle = (shown["from"] + shown["to"]) / 2
        assert abs(middle - (count - 1) / 2) < 0.5, f"{symbol} {resolution}: bars not centred: {shown}"
        assert shown["barSpacing"] >= 20, f"{symbol} {resolution}: bars drawn thin: {shown}"
        await chart.screenshot(f"few-bars-{count}-{resolution}.png")
    # Many bars keep the default: the newest at the right edge.
    await chart.open(SYMBOL, "1")
    shown = await chart.page.evaluate("() => window.__candleflow.visibleRange()")
    assert shown["barSpacing"] == 6 and shown["to"] >= len(await chart.bars()) - 1
    chart.assert_clean()


async def test_an_empty_server_says_how_to_feed_it_and_opens_the_first_symbol(
    browser: Browser, stack: StackInfo, database_url: str, names: Names, worker_factory: WorkerFactory
) -> None:
    """The hint used to be "is the feed running? `make run`", meaningless without a clone."""
    require_frontend_build()
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 1})
    worker = worker_factory.start(names.env(stack, database_url, ticks_partitions=1))
    await asyncio.to_thread(worker.wait_ready, WORKER_READY_S)
    context = await new_context(browser)
    try:
        chart = ChartPage(await context.new_page(), worker.url)
        await chart.page.goto(f"{worker.url}/")
        status = chart.page.locator('[data-testid="status"]')
        await status.get_by_text("No symbols yet").wait_for()
        hint = await status.text_content() or ""
        for advice in ("make run", "CANDLEFLOW_SOURCE=synthetic", "candleflow ingest synthetic"):
            assert advice in hint, hint
        assert "is the feed running" not in hint
        assert await chart.page.get_attribute('[data-testid="conn-state"]', "data-state") == "idle"
        await chart.screenshot("empty-server.png")

        symbol = "Fresh:NEW/USD"
        await publish(stack.kafka_bootstrap, names.ticks_topic, generate(200, symbols=(symbol,), days=0.1, seed=3))
        await wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
        await chart.wait_until(
            "(symbol) => { const h = window.__candleflow; return h !== undefined && h.symbol === symbol"
            " && h.snapshot().connection === 'live'; }",
            symbol,
            what="the first symbol opened by itself",
        )
        assert await status.is_hidden()
    finally:
        await context.close()


async def test_a_phone_sized_window_has_no_sideways_scroll_and_every_control_in_reach(
    browser: Browser, market: Market
) -> None:
    context = await new_context(browser, 390, 844)
    try:
        chart = ChartPage(await context.new_page(), market.worker.url)
        await chart.open(SYMBOL, "1")
        page = chart.page
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= 390
        boxes = await page.eval_on_selector_all(
            "header.toolbar button, header.toolbar a, header.toolbar input",
            "(els) => els.filter((e) => e.offsetParent !== null).map((e) => { const r = e.getBoundingClientRect();"
            " return [e.dataset.testid || e.textContent, r.left, r.right, r.width]; })",
        )
        outside = [box for box in boxes if box[1] < 0 or box[2] > 390 or box[3] < 16]
        assert len(boxes) >= 14 and not outside, f"controls out of reach or squeezed: {outside}"
        await page.click('[data-testid="indicator-menu"]')
        panel = await page.eval_on_selector(
            '[data-testid="indicator-toggles"]',
            "(e) => { const r = e.getBoundingClientRect(); return [r.left, r.right]; }",
        )
        assert panel[0] >= 0 and panel[1] <= 390, f"the indicator menu leaves the screen: {panel}"
        await chart.screenshot("phone-390-menu.png")
        await page.keyboard.press("Escape")
        toolbar = await page.eval_on_selector("header.toolbar", "(e) => e.getBoundingClientRect().height")
        assert toolbar < 130, f"the toolbar takes {toolbar:.0f} px of a phone's height"
        legend = await page.eval_on_selector('[data-testid="legend"]', "(e) => e.getBoundingClientRect().right")
        assert legend < 390 - 60, "the legend runs into the price scale"
        await chart.screenshot("phone-390.png")
        chart.assert_clean()
    finally:
        await context.close()
