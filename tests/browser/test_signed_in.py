"""The shipped chart behind access tokens, in Chromium: without a token the page says that
it needs one (the server's answer, in its status line); signed in once by its address
(`/?token=…`, as README "Exposing candleflow" tells an operator to hand out), the token
leaves the address bar for a cookie, and with that cookie alone the chart loads the
symbol's stored bars and holds its live stream (`EventSource` cannot send a header). The
application is served in-process against the real PostgreSQL and Kafka
(`tests.harness.web`)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from candleflow.access.tokens import issue
from candleflow.core.settings import Settings
from candleflow.stack import StackInfo
from tests.browser.conftest import PAGE_TIMEOUT_MS, ChartPage, require_frontend_build
from tests.harness import Names
from tests.harness.sse import SYMBOL, T, two_series
from tests.harness.web import serving_live

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SECRET = "a browser test's access-token secret, thirty-two bytes or more"


async def test_the_chart_signed_in_by_its_address_loads_and_goes_live_on_its_cookie(
    browser: Browser, stack: StackInfo, database_url: str, names: Names
) -> None:
    require_frontend_build()
    await two_series(stack, database_url, names)
    env = names.env(stack, database_url, sse_heartbeat=1, access="tokens", token_secret=SECRET)
    token = issue(SECRET.encode(), "alice", ("Coinbase:*",), 600)
    async with serving_live(Settings.from_env(env)) as (served, _):
        context = await browser.new_context()
        try:
            page = await context.new_page()
            await page.goto(f"{served.url}/?symbol={SYMBOL}&resolution=1", timeout=PAGE_TIMEOUT_MS)
            await page.wait_for_selector('[data-testid="status"]:has-text("access token required")')

            chart = ChartPage(page, served.url)
            signed = await page.goto(
                f"{served.url}/?token={token}&symbol={SYMBOL}&resolution=1", timeout=PAGE_TIMEOUT_MS
            )
            assert signed is not None and signed.status == 200
            assert "token" not in page.url, "the token stays in the address bar (and the history)"
            cookies = {c["name"]: c for c in await context.cookies()}
            assert any(c["value"] == token and c["httpOnly"] for c in cookies.values()), cookies

            await page.wait_for_function("() => window.__candleflow !== undefined", timeout=PAGE_TIMEOUT_MS)
            await chart.wait_live()
            bars = await chart.bars()
            assert [(b["time"], b["close"]) for b in bars][-1:] == [(T, 100.0)], bars[-3:]
            stream_urls = [u for u in chart.requests if "/udf/stream" in u]
            assert stream_urls and not any("token=" in u for u in stream_urls), "the stream rode on the cookie"
            assert not chart.errors, chart.errors
        finally:
            await context.close()
