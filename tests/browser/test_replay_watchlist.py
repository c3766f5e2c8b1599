"""Bar Replay and the watchlist in Chromium, on a worker whose engine absorbed the seeded
tick log.

Replay: one hour of stored ticks at 600x, started from the replay bar (a typed UTC
date, the 600x button, play); the candles appear in time order while it plays, and
once it has caught up the replayed chart equals, bar for bar, what the store serves and
what the live chart shows after `Live` (through the page's debug hook). Watchlist: 20
symbols live on the page's one SSE connection, a tick's price shown in its row, an item
removed and the list kept across a reload.
"""

from __future__ import annotations

import calendar
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from tests.browser.conftest import PAGE_TIMEOUT_MS, ChartPage, Market

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SYMBOL = "Coinbase:BTC/USD"
HOUR = 3600


def ohlcv(bar: dict[str, Any]) -> tuple[float, ...]:
    return (bar["time"], bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"])


async def replay_state(chart: ChartPage) -> dict[str, Any]:
    state: dict[str, Any] = await chart.page.evaluate("() => window.__candleflow.replay.state()")
    return state


async def test_an_hour_replayed_at_600x_forms_in_order_and_ends_on_the_history(
    chart: ChartPage, market: Market
) -> None:
    await chart.open(SYMBOL, "1")
    newest = (await market.latest_bar(SYMBOL, "1")).time
    start = newest - HOUR
    page = chart.page
    await page.click('[data-testid="replay-toggle"]')
    await page.fill('[data-testid="replay-start"]', time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start)))
    await page.click('[data-testid="replay-speed-600"]')
    await page.click('[data-testid="replay-play"]')
    await chart.wait_until(
        "() => window.__candleflow.replay.state().playing && !window.__candleflow.replay.state().loading",
        what="the replay playing",
    )
    seen: list[int] = []  # bars replayed so far, sampled while it plays
    while not (await replay_state(chart))["caughtUp"]:
        seen.append(len(await page.evaluate("() => window.__candleflow.replay.barTimes()")))
        assert len(seen) < 600, "the replay did not catch up within a minute"
        await page.wait_for_timeout(100)
    state = await replay_state(chart)
    assert state["speed"] == "600" and state["error"] is None
    assert await page.get_attribute('[data-testid="replay-bar"]', "data-state") == "caught-up"
    clock = await page.text_content('[data-testid="replay-clock"]')
    assert clock and clock.startswith(time.strftime("%Y-%m-%d", time.gmtime(state["clockMs"] / 1000)))
    times = await page.evaluate("() => window.__candleflow.replay.barTimes()")
    assert times == sorted(times) and len(set(times)) >= 30, "candles appeared out of order, or too few"
    assert len({n for n in seen if 0 < n < len(times)}) >= 2, f"the candles did not form over time: {seen}"
    await chart.screenshot("replay-caught-up.png")

    replayed = [ohlcv(b) for b in await page.evaluate("() => window.__candleflow.replay.bars()")]
    history_to = start // 60 * 60
    stored = [ohlcv(b.__dict__) for b in await market.bars(SYMBOL, "1", since=history_to)]
    assert [b for b in replayed if b[0] >= history_to] == stored
    sma = await page.evaluate("() => window.__candleflow.replay.lines().sma20.points")
    expected_sma = await market.indicator(SYMBOL, "1", "sma", 20, since=history_to)
    assert [(p["time"], p["value"]) for p in sma if p["time"] >= history_to] == expected_sma

    await page.click('[data-testid="replay-live"]')
    await chart.wait_live()
    live = [ohlcv(b) for b in await chart.bars()]
    first_live = live[0][0]
    assert [b for b in replayed if b[0] >= first_live] == live, "the replayed chart differs from the history chart"
    assert await page.get_attribute('[data-testid="chart"]', "data-replay") == "off"

    # Pick, then a click on a bar: a replay waits there, paused, its history loaded
    await page.click('[data-testid="replay-pick"]')
    box = await page.locator('[data-testid="chart"] canvas').first.bounding_box()
    assert box is not None
    await page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
    await chart.wait_until(
        "() => { const s = window.__candleflow.replay.state(); return s.active && !s.loading && !s.playing; }",
        what="a paused replay from the clicked bar",
    )
    typed = await page.input_value('[data-testid="replay-start"]')  # seconds left out when :00
    picked = calendar.timegm(datetime.fromisoformat(typed).timetuple())
    held = await page.evaluate("() => window.__candleflow.replay.bars()")
    assert live[0][0] <= picked <= live[-1][0], "the picked start is no bar of the chart"
    assert held and max(b["time"] for b in held) < picked
    await page.click('[data-testid="replay-live"]')
    await chart.wait_live()
    chart.assert_clean()


async def test_a_watchlist_of_twenty_symbols_is_live_on_one_stream(chart: ChartPage, market: Market) -> None:
    extra = [f"Test:W{i:02d}/USD" for i in range(18)]
    now_ms = int(time.time() * 1000)
    await market.publish(
        [{"symbol": s, "ts": now_ms - 5_000, "price": 10.0 + i, "qty": 1.0} for i, s in enumerate(extra)]
    )
    watched = [*market.symbols, *extra]
    assert len(watched) == 20
    query = urlencode({"symbol": SYMBOL, "resolution": "1", "watch": ",".join(watched)})
    page = chart.page
    await page.goto(f"{market.worker.url}/?{query}", timeout=PAGE_TIMEOUT_MS)
    await chart.wait_until(
        "(n) => document.querySelectorAll('[data-testid=watch-item][data-price]').length === n",
        len(watched),
        what="every watched symbol with its last price",
    )
    assert await page.evaluate("() => window.__candleflow.watchlist.symbols()") == watched
    await market.publish([{"symbol": extra[3], "ts": int(time.time() * 1000), "price": 777.5, "qty": 2.0}])
    await chart.wait_until(
        "(s) => document.querySelector(`[data-testid=watch-item][data-symbol='${s}']`)?.dataset.price === '777.5'",
        extra[3],
        what="the new price in the watchlist",
    )
    change = await page.text_content(f'[data-testid=watch-item][data-symbol="{extra[3]}"] [data-testid=watch-change]')
    assert change is not None and change.startswith("+")
    streams = [url for url in chart.requests if urlsplit(url).path == "/udf/streams"]
    assert len(streams) == 1, f"the page opened {len(streams)} streams"
    assert await page.evaluate("() => window.__candleflow.datafeed.streamsOpened()") == 1
    await chart.screenshot("watchlist.png")

    await page.click(f'[data-testid=watch-item][data-symbol="{extra[0]}"] [data-testid=watch-remove]')
    await page.goto(f"{market.worker.url}/?{urlencode({'symbol': SYMBOL, 'resolution': '1'})}")
    await chart.wait_until(
        "(n) => window.__candleflow?.watchlist?.symbols().length === n", len(watched) - 1, what="the kept list"
    )
    await page.click(f'[data-testid=watch-item][data-symbol="{extra[1]}"] .watch-symbol')
    await chart.wait_until("(s) => window.__candleflow.symbol === s", extra[1], what="the clicked symbol opened")
    chart.assert_clean()
