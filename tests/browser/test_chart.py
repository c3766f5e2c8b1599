"""The browser chart end to end: headless Chromium on `/` of a real worker whose engine
absorbed a real tick log. What the page holds (`window.__candleflow`) and shows (the
connection state, the last price) is checked against the `bars` table.

The tests share one worker and one seeded log (the `market` fixture); each opens its
own browser context. The worker-restart test runs last: it leaves the worker restarted.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from tests.browser.conftest import ChartPage, DbBar, Market
from tests.harness.tickgen import generate

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SYMBOL = "Coinbase:BTC/USD"


def assert_same_bars(page_bars: Sequence[dict[str, float]], stored: Sequence[DbBar], what: str) -> None:
    """Same times and OHLC, volume within float rounding of the exact numeric sum."""
    assert [b["time"] for b in page_bars] == [b.time for b in stored], f"{what}: bar times differ from the database"
    for shown, kept in zip(page_bars, stored, strict=True):
        assert (shown["open"], shown["high"], shown["low"], shown["close"]) == (
            kept.open,
            kept.high,
            kept.low,
            kept.close,
        ), f"{what}: bar {kept.time} is {shown}, the database has {kept}"
        assert math.isclose(shown["volume"], kept.volume, rel_tol=1e-9, abs_tol=1e-12), (
            f"{what}: volume of bar {kept.time} is {shown['volume']}, the database has {kept.volume}"
        )


async def test_chart_shows_the_stored_history(chart: ChartPage, market: Market) -> None:
    await chart.open(SYMBOL, "1")

    bars = await chart.bars()
    assert bars, "the chart shows no bars"
    stored = await market.bars(SYMBOL, "1", since=int(bars[0]["time"]))
    assert len(bars) == len(stored)
    assert_same_bars(bars, stored, "1-minute history")
    latest = await market.latest_bar(SYMBOL, "1")
    last = await chart.last_bar()
    assert (last["time"], last["open"], last["high"], last["low"], last["close"]) == (
        latest.time,
        latest.open,
        latest.high,
        latest.low,
        latest.close,
    )
    # Three days of 1-minute bars: the first load holds only the newest part of them.
    assert len(bars) < await market.count(SYMBOL, "1")

    page = chart.page
    assert await page.get_attribute('[data-testid="chart"]', "data-symbol") == SYMBOL
    assert await page.get_attribute('[data-testid="resolution-1"]', "aria-pressed") == "true"
    assert float(await page.get_attribute('[data-testid="last-price"]', "data-price") or "nan") == latest.close
    price_text = await page.text_content('[data-testid="last-price"]')
    assert price_text and float(price_text) == pytest.approx(latest.close, abs=0.006)
    assert (await page.title()).startswith(f"{price_text} {SYMBOL}")
    lines = await page.evaluate("() => window.__candleflow.lines()")
    visible = [name for name, line in lines.items() if line["visible"]]
    assert visible, "no moving-average line is on by default"
    assert all(lines[name]["points"] for name in visible), f"visible lines without points: {lines.keys()}"
    await chart.screenshot("chart.png")
    chart.assert_clean()


async def test_a_published_tick_changes_the_last_candle(chart: ChartPage, market: Market) -> None:
    await chart.open(SYMBOL, "1")
    price_element = chart.page.locator('[data-testid="last-price"]')
    latest = await market.latest_bar(SYMBOL, "1")

    # A first tick opens the current minute's candle at the last close (a new bar) ...
    now_ms = int(time.time() * 1000)
    minute = now_ms // 60_000 * 60
    tick = {"symbol": SYMBOL, "ts": now_ms, "price": latest.close, "qty": 0.25, "side": "sell", "id": "live-1"}
    await market.publish([tick])
    await wait_last_bar(chart, minute, high=latest.close, close=latest.close)
    before_text = await price_element.text_content()
    before_ticks = (await chart.snapshot())["ticks"]
    await chart.screenshot("live-before.png")

    # ... and a second one, in the same minute, sets a new high (for the whole history:
    # the candle grows into a tall green body).
    price = round(max(bar.high for bar in await market.bars(SYMBOL, "1")) * 1.02 + 0.01, 2)
    await market.publish([{**tick, "price": price, "qty": 0.5, "side": "buy", "id": "live-2"}])
    await wait_last_bar(chart, minute, high=price, close=price)
    await chart.wait_until(
        "(text) => document.querySelector('[data-testid=\"last-price\"]').textContent === text",
        f"{price:.2f}",
        what=f"the last price to read {price:.2f}",
    )
    after_text = await price_element.text_content()
    assert after_text != before_text
    assert await price_element.get_attribute("data-direction") == "up"
    assert (await chart.snapshot())["ticks"] > before_ticks
    assert (await chart.page.title()).startswith(f"{after_text} {SYMBOL}")
    stored = await market.latest_bar(SYMBOL, "1")
    last = await chart.last_bar()
    assert (stored.time, stored.open, stored.high, stored.low, stored.close) == (
        minute,
        latest.close,
        price,
        latest.close,
        price,
    )
    assert (last["open"], last["low"]) == (stored.open, stored.low)
    assert last["volume"] == pytest.approx(stored.volume) == 0.75
    lines = await chart.page.evaluate("() => window.__candleflow.lines()")
    ends = {name: line["points"][-1]["time"] for name, line in lines.items() if line["visible"]}
    assert ends and set(ends.values()) == {minute}, f"moving averages do not follow the live bar: {ends}"
    await chart.screenshot("live-after.png")
    chart.assert_clean()


async def wait_last_bar(chart: ChartPage, time_s: int, *, high: float, close: float) -> None:
    await chart.wait_until(
        "([time, high, close]) => { const b = window.__candleflow.lastBar();"
        " return b !== undefined && b.time === time && b.high === high && b.close === close; }",
        [time_s, high, close],
        what=f"the last candle ({time_s}) to show high {high} and close {close}",
    )


async def test_switching_resolution_reloads_the_right_bars(chart: ChartPage, market: Market) -> None:
    await chart.open(SYMBOL, "1")
    loads = (await chart.snapshot())["loads"]

    await chart.page.click('[data-testid="resolution-5"]')
    await chart.wait_until(
        "(loads) => { const s = window.__candleflow.snapshot();"
        " return s.resolution === '5' && s.loads > loads && !s.loading && s.connection === 'live'; }",
        loads,
        what="the 5-minute chart",
    )
    await chart.page.evaluate("() => window.__candleflow.ready()")

    bars = await chart.bars()
    assert bars
    assert all(bar["time"] % 300 == 0 for bar in bars), [b["time"] for b in bars if b["time"] % 300][:5]
    stored = await market.bars(SYMBOL, "5", since=int(bars[0]["time"]))
    assert [(b["time"], b["close"]) for b in bars] == [(b.time, b.close) for b in stored]
    assert_same_bars(bars, stored, "5-minute history")
    query = parse_qs(urlsplit(chart.page.url).query)
    assert query["resolution"] == ["5"]
    assert query["symbol"] == [SYMBOL]
    assert await chart.page.get_attribute('[data-testid="resolution-5"]', "aria-pressed") == "true"
    assert await chart.page.get_attribute('[data-testid="resolution-1"]', "aria-pressed") == "false"
    await chart.screenshot("chart-5m.png")

    # The browser's back button reopens the 1-minute chart the URL named before.
    loads = (await chart.snapshot())["loads"]
    await chart.page.go_back()
    await chart.wait_until(
        "(loads) => { const s = window.__candleflow.snapshot();"
        " return s.resolution === '1' && s.loads > loads && !s.loading; }",
        loads,
        what="the 1-minute chart after going back",
    )
    assert parse_qs(urlsplit(chart.page.url).query)["resolution"] == ["1"]
    bars = await chart.bars()
    assert [b["time"] for b in bars] == [b.time for b in await market.bars(SYMBOL, "1", since=int(bars[0]["time"]))]
    chart.assert_clean()


async def test_a_late_tick_corrects_the_bar_in_place(chart: ChartPage, market: Market) -> None:
    await chart.open(SYMBOL, "1")
    bars = await chart.bars()
    target = bars[-20]  # an older bar, not the live one
    loads = (await chart.snapshot())["loads"]

    # A tick that arrives late, inside that bar's minute, with a new low: the engine
    # corrects the stored bar and the stream carries the corrected bar to the page.
    low = round(target["low"] * 0.97, 2)
    tick = {"symbol": SYMBOL, "ts": int(target["time"]) * 1000 + 30_000, "price": low, "qty": 0.1, "id": "late-1"}
    await market.publish([tick])
    stored = {b.time: b for b in await market.bars(SYMBOL, "1", since=int(bars[0]["time"]))}
    assert stored[int(target["time"])].low == low

    await chart.wait_until(
        "([time, low]) => window.__candleflow.bars().some((b) => b.time === time && b.low === low)",
        [target["time"], low],
        what=f"the bar at {target['time']} to show the late low {low}",
    )
    snapshot = await chart.snapshot()
    assert snapshot["loads"] == loads, "the chart reloaded its history for a correction it can apply in place"
    assert snapshot["corrections"] >= 1
    after = await chart.bars()
    assert_same_bars(after, await market.bars(SYMBOL, "1", since=int(after[0]["time"])), "history after a correction")
    chart.assert_clean()


async def test_scrolling_back_loads_older_bars(chart: ChartPage, market: Market) -> None:
    await chart.open(SYMBOL, "1")
    before = await chart.snapshot()
    first_bars = await chart.bars()
    assert not before["historyExhausted"]

    # Drag the chart to the right, as a user would, until an older page has arrived.
    box = await chart.page.locator('[data-testid="chart"]').bounding_box()
    assert box is not None
    y = box["y"] + box["height"] * 0.4
    for _ in range(8):
        await chart.page.mouse.move(box["x"] + box["width"] * 0.2, y)
        await chart.page.mouse.down()
        await chart.page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=10)
        await chart.page.mouse.up()
        if (await chart.snapshot())["olderLoads"] > before["olderLoads"]:
            break
        await asyncio.sleep(0.5)
    await chart.wait_until(
        "(n) => { const s = window.__candleflow.snapshot(); return s.olderLoads > n && !s.loadingOlder; }",
        before["olderLoads"],
        what="an older page of bars after dragging the chart",
    )
    # And once more through the test hook.
    dragged = await chart.snapshot()
    await chart.page.evaluate("() => window.__candleflow.scrollBack(400)")
    await chart.wait_until(
        "(n) => { const s = window.__candleflow.snapshot(); return s.olderLoads > n && !s.loadingOlder; }",
        dragged["olderLoads"],
        what="an older page of bars after scrollBack(400)",
    )

    bars = await chart.bars()
    after = await chart.snapshot()
    assert after["bars"] == len(bars) > len(first_bars)
    assert bars[0]["time"] < first_bars[0]["time"]
    assert bars[-len(first_bars) :] == first_bars, "the newer bars changed while older ones were loaded"
    stored = await market.bars(SYMBOL, "1", since=int(bars[0]["time"]))
    assert_same_bars(bars, stored, "history after scrolling back")
    await chart.screenshot("scrolled-back.png")
    chart.assert_clean()


QUIET = "Gemini:LTC/BTC"
QUIET_DAYS_AGO = 120


async def test_a_series_quiet_for_months_draws_its_sma_and_ema_lines(chart: ChartPage, market: Market) -> None:
    """The series' last trade is four months old, so the lines' range (first bar shown to
    now) is long in nominal 1-minute buckets but holds a few hundred points: the SMA and
    EMA lines are drawn from the stored averages, the state line stays empty and the
    console clean."""
    end_ms = int(time.time() * 1000) - QUIET_DAYS_AGO * 86_400_000
    await market.publish(generate(3_000, symbols=(QUIET,), days=1.0, seed=23, end_ms=end_ms))
    await chart.open(QUIET, "1")
    page = chart.page
    await chart.toggle("indicator-ema20")
    drawn = ("sma20", "sma50", "ema20")
    await chart.wait_until(
        "(ids) => { const lines = window.__candleflow.lines();"
        " return ids.every((id) => lines[id].visible && lines[id].points.length > 0); }",
        list(drawn),
        what="the SMA and EMA lines of the quiet series drawn",
    )
    bars = await chart.bars()
    first = int(bars[0]["time"])
    assert first < time.time() - QUIET_DAYS_AGO * 86_400 + 86_400, "the series must be months old"
    lines = await page.evaluate("() => window.__candleflow.lines()")
    for line in drawn:
        kind, period = line[:3], int(line[3:])
        stored = await market.indicator(QUIET, "1", kind, period, since=first)
        shown = lines[line]["points"]
        assert [p["time"] for p in shown] == [t for t, _ in stored], f"{line}: point times differ from the database"
        assert [p["value"] for p in shown] == pytest.approx([v for _, v in stored], rel=1e-6), line
    assert await page.is_hidden('[data-testid="status"]'), await page.text_content('[data-testid="status"]')
    assert chart.console == [], f"console errors or warnings for a valid symbol: {chart.console}"
    chart.assert_clean()


async def test_the_page_makes_no_request_outside_localhost(chart: ChartPage, market: Market) -> None:
    await chart.open(SYMBOL, "1")
    page = chart.page
    await chart.toggle("indicator-ema50")
    await page.click('[data-testid="theme-toggle"]')
    await page.fill('[data-testid="symbol-input"]', "ETH")
    await page.press('[data-testid="symbol-input"]', "Enter")
    await chart.wait_until(
        "(symbol) => { const s = window.__candleflow.snapshot();"
        " return s.symbol === symbol && !s.loading && s.connection === 'live'; }",
        market.symbols[1],
        what=f"the chart of {market.symbols[1]} after searching ETH",
    )
    await page.click('[data-testid="resolution-15"]')
    await chart.wait_until(
        "() => { const s = window.__candleflow.snapshot(); return s.resolution === '15' && !s.loading; }",
        what="the 15-minute chart",
    )
    await chart.screenshot("dark-eth-15m.png")
    await chart.page.evaluate("() => window.__candleflow.scrollBack(300)")
    await chart.wait_until(
        "() => !window.__candleflow.snapshot().loadingOlder", what="older 15-minute bars after scrolling back"
    )

    hosts = {urlsplit(url).hostname for url in chart.requests}
    kinds = {urlsplit(url).path.split("/")[1] for url in chart.requests}
    assert hosts <= {"127.0.0.1", "localhost"}, chart.foreign_requests()
    assert {"assets", "udf", "api"} <= kinds, sorted(kinds)
    chart.assert_clean()


async def test_killing_and_restarting_the_worker_reconnects(chart: ChartPage, market: Market) -> None:
    await chart.open(SYMBOL, "1")
    # Record every state the connection element shows, not just the ones we poll into.
    await chart.page.evaluate(
        """() => {
          const conn = document.querySelector('[data-testid="conn-state"]');
          window.__states = [conn.dataset.state];
          new MutationObserver(() => window.__states.push(conn.dataset.state))
            .observe(conn, {attributes: true, attributeFilter: ['data-state']});
        }"""
    )
    loads = (await chart.snapshot())["loads"]

    await asyncio.to_thread(market.worker.kill)
    await chart.wait_state("reconnecting", "offline")
    await chart.screenshot("reconnecting.png")

    await asyncio.to_thread(market.worker.restart)
    await asyncio.to_thread(market.worker.wait_ready, 120.0)
    # Back live, and the chart reloaded its history (bars may have been missed).
    await chart.wait_until(
        "(loads) => { const s = window.__candleflow.snapshot();"
        " return s.connection === 'live' && !s.loading && s.loads > loads; }",
        loads,
        what="the chart live again after the worker restarted",
        timeout_ms=90_000,
    )
    states: list[str] = await chart.page.evaluate("() => window.__states")
    assert "reconnecting" in states, states
    assert states[-1] == "live", states
    assert states.index("reconnecting") < len(states) - 1
    assert await chart.page.get_attribute('[data-testid="conn-state"]', "data-state") == "live"
    latest = await market.latest_bar(SYMBOL, "1")
    last = await chart.last_bar()
    assert (last["time"], last["close"]) == (latest.time, latest.close)
    await chart.screenshot("reconnected.png")
    assert not chart.foreign_requests()
    assert not chart.errors


async def test_the_chart_lists_registered_functions_and_draws_rsi_in_its_own_pane(
    chart: ChartPage, market: Market
) -> None:
    await chart.open(SYMBOL, "5")
    page = chart.page
    assert await page.evaluate("() => window.__candleflow.panes()") == 1
    rsi, upper = "indicator-rsi14", "indicator-bollinger(period=20,width=2.0).upper"
    assert await page.get_attribute(f'[data-testid="{rsi}"]', "aria-pressed") == "false"
    await chart.toggle(rsi)
    await chart.toggle(upper)
    await chart.wait_until(
        "() => { const l = window.__candleflow.lines();"
        " return l.rsi14.points.length > 0 && l['bollinger(period=20,width=2.0).upper'].points.length > 0; }",
        what="RSI and the upper Bollinger band loaded",
    )
    assert await page.evaluate("() => window.__candleflow.panes()") == 2, "RSI draws in a pane of its own"
    lines = await page.evaluate("() => window.__candleflow.lines()")
    conn = await asyncpg.connect(market.database_url)
    try:
        stored = {
            r["t"]: r["value"]
            for r in await conn.fetch(
                "SELECT extract(epoch from bucket)::bigint AS t, value FROM indicators"
                " WHERE symbol = $1 AND resolution = '5' AND kind = 'rsi' AND period = 14",
                SYMBOL,
            )
        }
    finally:
        await conn.close()
    points = lines["rsi14"]["points"]
    assert all(stored[p["time"]] == p["value"] for p in points), "the chart draws the stored RSI"
    assert all(0 <= p["value"] <= 100 for p in points)
    await chart.screenshot("rsi-pane.png")
    await chart.toggle(rsi)
    await chart.wait_until("() => window.__candleflow.panes() === 1", what="the RSI pane gone with RSI switched off")
    chart.assert_clean()
