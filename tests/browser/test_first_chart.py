"""The first chart is a chart: a worker started the way `make run` starts it, on an
empty database and an empty ticks topic, lays down its demo history; within 60 s of the
moment `make run` prints the URL the default chart shows at least 300 one-minute bars
with the SMA 20 and 50 lines and crossover marks, then moves live.

The screenshot (`tests/artifacts/first-chart.png`, copied to `docs/` for the README) is
checked by its pixels: candles of both colours and both moving-average lines are drawn.
"""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

from candleflow.core.settings import Settings
from candleflow.stack import StackInfo
from candleflow.stack.run import DEMO_HISTORY_HOURS, FIRST_CHART_TIMEOUT, wait_first_chart
from tests.browser.conftest import PAGE_TIMEOUT_MS, WORKER_READY_S, require_frontend_build
from tests.harness import Names, WorkerFactory

pytestmark = [pytest.mark.integration, pytest.mark.browser]

#: What the issue promises a newcomer, counted from the moment the URL is printed.
FIRST_CHART_S = 60.0
MIN_BARS = 300

#: Colours of the light theme (frontend/src/theme.ts, indicators.ts) the screenshot must show.
COLOURS = {
    "up candles": (0x16, 0xA3, 0x4A),
    "down candles": (0xDC, 0x26, 0x26),
    "SMA 20": (0xF5, 0x9E, 0x0B),
    "SMA 50": (0x3B, 0x82, 0xF6),
}
MIN_PIXELS = 150

FULL_CHART = """([minBars]) => {
  const hook = window.__candleflow;
  if (!hook) return false;
  const s = hook.snapshot();
  const lines = hook.lines();
  return s.connection === 'live' && !s.loading && s.bars >= minBars
    && lines.sma20 && lines.sma20.visible && lines.sma20.points.length >= minBars - 20
    && lines.sma50 && lines.sma50.visible && lines.sma50.points.length >= minBars - 50
    && hook.markers().length > 0;
}"""

COUNT_COLOURS = """async ([png, colours]) => {
  const image = new Image();
  image.src = 'data:image/png;base64,' + png;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const counts = {};
  for (const name of Object.keys(colours)) counts[name] = 0;
  for (let i = 0; i < data.length; i += 4) {
    for (const [name, [r, g, b]] of Object.entries(colours)) {
      if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 60) counts[name] += 1;
    }
  }
  return counts;
}"""


async def test_make_run_opens_on_a_full_chart_that_then_moves_live(
    browser: Browser, stack: StackInfo, database_url: str, names: Names, worker_factory: WorkerFactory, artifacts: Path
) -> None:
    require_frontend_build()
    worker = worker_factory.start(
        names.env(stack, database_url, source="synthetic", synthetic_history=DEMO_HISTORY_HOURS)
    )
    await asyncio.to_thread(worker.wait_ready, WORKER_READY_S)
    assert worker.process is not None
    # What `make run` waits for before it prints the URL.
    assert await asyncio.to_thread(wait_first_chart, worker.url, worker.process, FIRST_CHART_TIMEOUT), (
        f"the demo history never filled the default chart within {FIRST_CHART_TIMEOUT:.0f} s"
    )
    url_printed = time.monotonic()

    context = await browser.new_context(viewport={"width": 1280, "height": 720}, color_scheme="light")
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{worker.url}/")
        left_ms = max(1.0, FIRST_CHART_S - (time.monotonic() - url_printed)) * 1000
        try:
            await page.wait_for_function(FULL_CHART, arg=[MIN_BARS], timeout=left_ms, polling=250)
        except Exception as exc:
            state = await page.evaluate(
                "() => { const h = window.__candleflow; if (!h) return null; const l = h.lines();"
                " return {snapshot: h.snapshot(), sma20: l.sma20?.points.length, sma50: l.sma50?.points.length,"
                " marks: h.markers().length}; }"
            )
            raise AssertionError(f"no full chart {FIRST_CHART_S:.0f} s after the URL was printed: {state}") from exc
        snapshot: dict[str, Any] = await page.evaluate("() => window.__candleflow.snapshot()")
        assert snapshot["resolution"] == "1"
        assert snapshot["symbol"] in Settings().synthetic_symbols

        screenshot = await page.screenshot(path=str(artifacts / "first-chart.png"))
        counts: dict[str, int] = await page.evaluate(
            COUNT_COLOURS, [base64.b64encode(screenshot).decode(), {k: list(v) for k, v in COLOURS.items()}]
        )
        assert all(n >= MIN_PIXELS for n in counts.values()), f"the screenshot lacks part of the chart: {counts}"

        first_last: dict[str, float] = await page.evaluate("() => window.__candleflow.lastBar()")
        await page.wait_for_function(
            "([time, close, volume]) => { const b = window.__candleflow.lastBar();"
            " return b.time > time || b.close !== close || b.volume !== volume; }",
            arg=[first_last["time"], first_last["close"], first_last["volume"]],
            timeout=PAGE_TIMEOUT_MS,
            polling=250,
        )
        assert not errors, f"uncaught errors in the page: {errors}"
    finally:
        await context.close()
