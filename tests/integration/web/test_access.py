"""Access control, route by route: the auth matrix over every route of the route table
(derived from `candleflow.web.routes.routes()`, so a route added without a rule or an
example here fails), served in-process against the real PostgreSQL and Kafka.

For each route: no token, an expired one, a forged one, one whose symbols do not cover
what is read, and a good one; for the stream POSTs, another holder's token. Then the
three ways of sending a token, the chart's sign-in (`/?token=…` to a cookie), the admin
surface with and without a port of its own, and the token kept out of every log line,
metric and error body."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from candleflow.access.tokens import issue
from candleflow.core.settings import Settings
from candleflow.stack import StackInfo
from candleflow.web.routes import route_rules, routes
from candleflow.web.rules import Rule
from tests.harness import Names
from tests.harness.engine import publish
from tests.harness.sse import OTHER, SYMBOL, T, reading, stream_id, streams, two_series
from tests.harness.web import LiveHub, Served, serving, serving_live

pytestmark = pytest.mark.integration

SECRET = "an access-token secret of at least thirty-two bytes"
#: Alice may read Coinbase's markets (SYMBOL), not Kraken's (OTHER).
ALICE = ("Coinbase:*",)


def token(holder: str = "alice", symbols: tuple[str, ...] = ALICE, *, ttl: float = 600, **kw: Any) -> str:
    return issue(SECRET.encode(), holder, symbols, ttl, **kw)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@dataclass(frozen=True)
class Example:
    """A request of one route: its path (`{stream}` filled in later) and parameters for a
    symbol; `symbol_bound` when what it reads is a symbol's (refused for a wrong one)."""

    path: str
    params: Callable[[str], list[tuple[str, str]]]
    symbol_bound: bool = True


def _none(_: str) -> list[tuple[str, str]]:
    return []


def _series(symbol: str) -> list[tuple[str, str]]:
    return [("symbol", symbol), ("resolution", "1"), ("from", str(T - 3600)), ("to", str(T + 3600))]


EXAMPLES: dict[tuple[str, str], Example] = {
    ("GET", "/udf/config"): Example("/udf/config", _none, symbol_bound=False),
    ("GET", "/udf/time"): Example("/udf/time", _none, symbol_bound=False),
    ("GET", "/udf/symbols"): Example("/udf/symbols", lambda s: [("symbol", s)]),
    ("GET", "/udf/search"): Example("/udf/search", lambda s: [("query", s.split(":")[1])], symbol_bound=False),
    ("GET", "/udf/history"): Example("/udf/history", _series),
    ("GET", "/udf/quotes"): Example("/udf/quotes", lambda s: [("symbols", s)], symbol_bound=False),
    ("GET", "/udf/marks"): Example("/udf/marks", _series),
    ("GET", "/udf/timescale_marks"): Example("/udf/timescale_marks", _series),
    ("GET", "/udf/stream"): Example("/udf/stream", lambda s: [("symbol", s), ("resolution", "1")]),
    ("GET", "/udf/streams"): Example("/udf/streams", lambda s: [("sub", f"{s}|1")]),
    ("POST", "/udf/streams/{stream}/subscribe"): Example(
        "/udf/streams/{stream}/subscribe", lambda s: [("sub", f"{s}|5")]
    ),
    ("POST", "/udf/streams/{stream}/unsubscribe"): Example(
        "/udf/streams/{stream}/unsubscribe", lambda s: [("sub", f"{s}|5")]
    ),
    ("GET", "/udf/replay"): Example(
        "/udf/replay", lambda s: [*_series(s)[:2], ("from", str(T - 3600)), ("speed", "max")]
    ),
    **{
        ("POST", f"/udf/replay/{{replay}}/{action}"): Example(f"/udf/replay/{{replay}}/{action}", params, False)
        for action, params in (
            ("pause", _none),
            ("resume", _none),
            ("speed", lambda _: [("speed", "2")]),
            ("step", _none),
            ("jump", lambda _: [("to", str(T - 1800))]),
        )
    },
    ("GET", "/api/indicators"): Example("/api/indicators", lambda s: [*_series(s), ("kind", "sma"), ("period", "20")]),
    ("GET", "/api/functions"): Example("/api/functions", _none, symbol_bound=False),
    ("GET", "/healthz"): Example("/healthz", _none, symbol_bound=False),
    ("GET", "/livez"): Example("/livez", _none, symbol_bound=False),
    ("GET", "/metrics"): Example("/metrics", _none, symbol_bound=False),
    ("GET", "/openapi.json"): Example("/openapi.json", _none, symbol_bound=False),
    ("GET", "/"): Example("/", _none, symbol_bound=False),
    ("GET", "/grid"): Example("/grid", _none, symbol_bound=False),
    ("GET", "/assets/{path:.+}"): Example("/assets/missing.js", _none, symbol_bound=False),
    ("GET", "/charting-library.json"): Example("/charting-library.json", _none, symbol_bound=False),
    ("GET", "/charting_library/{path:.+}"): Example("/charting_library/missing.js", _none, symbol_bound=False),
}
#: The pattern routes of the build's root: its pages by file name, and its other files.
HTML_PAGE_EXAMPLE = Example("/tv.html", _none, symbol_bound=False)
ROOT_FILE_EXAMPLE = Example("/favicon.ico", _none, symbol_bound=False)
#: Routes of the frontend's build: 404 where it is not built (or the file does not exist).
BUILT = ("/grid", "/assets", "/{name", "/charting")


def example(method: str, path: str) -> Example:
    if path.startswith("/{name:"):
        return HTML_PAGE_EXAMPLE if path.endswith(r"\.html}") else ROOT_FILE_EXAMPLE
    found = EXAMPLES.get((method, path))
    assert found is not None, f"{method} {path}: add an example request to EXAMPLES (and a rule to its view)"
    return found


async def logged(stack: StackInfo, database_url: str, names: Names) -> None:
    """`two_series`, and ticks of `SYMBOL` at `T` in the log: a replay from `T - 3600`
    (at 1x, or paused) runs until it is closed."""
    await two_series(stack, database_url, names)
    await publish(
        stack.kafka_bootstrap, names.ticks_topic, [{"symbol": SYMBOL, "ts": T * 1000 + 5, "price": 100.0, "qty": 1.0}]
    )


@contextlib.asynccontextmanager
async def paused_replay(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> AsyncIterator[str]:
    """A paused replay of `SYMBOL` from `T - 3600`, running while the block lasts; its id."""
    asked = {"symbol": SYMBOL, "resolution": "1", "from": T - 3600, "paused": "true"}
    async with reading(session, f"{url}/udf/replay", asked, headers) as (response, reader):
        assert response.status == 200
        await reader.wait_for(lambda r: any(e.kind == "hello" for e in r.events))
        yield str(next(e.data["replay"] for e in reader.events if e.kind == "hello"))


@pytest.fixture
async def guarded(stack: StackInfo, database_url: str, names: Names) -> AsyncIterator[tuple[Served, LiveHub]]:
    await logged(stack, database_url, names)
    env = names.env(stack, database_url, sse_heartbeat=1, access="tokens", token_secret=SECRET)
    async with serving_live(Settings.from_env(env)) as served:
        yield served


#: The placeholders of paths that name a running stream or replay.
OWNED = ("{stream}", "{replay}")


async def call(
    session: aiohttp.ClientSession, url: str, method: str, ex: Example, symbol: str, headers: dict[str, str],
    ids: dict[str, str],
) -> tuple[int, Any]:  # fmt: skip
    """Status and body (JSON when it is JSON) of `ex` for `symbol`, its path's `{stream}` or
    `{replay}` filled from `ids`; a stream is closed once its head is in."""
    target = url + ex.path
    for placeholder, found in ids.items():
        target = target.replace(placeholder, found)
    async with session.request(
        method, target, params=ex.params(symbol), headers=headers, allow_redirects=False
    ) as response:
        if response.content_type == "text/event-stream":
            return response.status, None
        body = await response.json() if response.content_type == "application/json" else await response.read()
        return response.status, body


def test_every_route_carries_a_rule_and_an_example() -> None:
    rules = route_rules()
    assert set(rules) == set(routes())
    missing = [route for route, rule in rules.items() if rule is None]
    assert not missing, f"routes without an access rule (candleflow.web.rules): {missing}"
    for method, path in routes():
        example(method, path)


async def test_the_auth_matrix_of_every_route(guarded: tuple[Served, LiveHub]) -> None:
    server = guarded[0]
    rules = route_rules()
    expired = token(ttl=1, now=time.time() - 3600)
    forged = issue(b"f" * 40, "alice", ALICE, 600)
    async with (
        aiohttp.ClientSession() as session,
        streams(session, server.url, [], headers=bearer(token())) as (response, reader),
        paused_replay(session, server.url, bearer(token())) as replay,
    ):
        assert response.status == 200
        await reader.wait_for(lambda r: any(e.kind == "hello" for e in r.events))
        ids = {"{stream}": stream_id(reader), "{replay}": replay}
        for method, path in routes():
            rule, ex = rules[(method, path)], example(method, path)
            where = f"{method} {path}"

            async def status(symbol: str, headers: dict[str, str], ex: Example = ex, method: str = method) -> int:
                return (await call(session, server.url, method, ex, symbol, headers, ids))[0]

            good = await status(SYMBOL, bearer(token(admin=rule is Rule.ADMIN)))
            assert good in (200, 404) if path.startswith(BUILT) else good == 200, where
            if rule in (Rule.PUBLIC, Rule.PAGE):
                assert await status(SYMBOL, {}) == good, where
                continue
            for name, headers in (("none", {}), ("expired", bearer(expired)), ("forged", bearer(forged))):
                code, body = await call(session, server.url, method, ex, SYMBOL, headers, ids)
                assert code == 401, (where, name, body)
                assert body["s"] == "error" and ("expired" if name == "expired" else "") in body["errmsg"], body
            if rule is Rule.ADMIN:
                assert await status(SYMBOL, bearer(token())) == 403, where
            elif ex.symbol_bound:
                code, body = await call(session, server.url, method, ex, OTHER, bearer(token()), ids)
                assert (code, body["errmsg"]) == (403, f"your access token does not allow {OTHER}"), where
            for placeholder in OWNED:
                if placeholder in path:
                    code, body = await call(session, server.url, method, ex, SYMBOL, bearer(token("bob")), ids)
                    what = placeholder.strip("{}")
                    assert (code, body["errmsg"]) == (403, f"this {what} belongs to another token holder"), where


async def test_what_a_token_does_not_allow_is_left_out_of_search_and_quotes(guarded: tuple[Served, LiveHub]) -> None:
    url = guarded[0].url
    async with aiohttp.ClientSession(headers=bearer(token())) as session:
        async with session.get(f"{url}/udf/search", params={"query": ""}) as response:
            assert [item["ticker"] for item in await response.json()] == [SYMBOL]
        async with session.get(f"{url}/udf/quotes", params={"symbols": f"{SYMBOL},{OTHER},ETH/USD"}) as response:
            items = (await response.json())["d"]
        assert [(item["n"], item["s"]) for item in items] == [(SYMBOL, "ok"), (OTHER, "error"), ("ETH/USD", "error")]
        async with session.get(f"{url}/udf/symbols", params={"symbol": "eth/usd"}) as response:
            assert response.status == 403  # an alias is checked as the market it resolves to
        async with session.get(f"{url}/udf/streams", params={"quote": OTHER}) as response:
            assert response.status == 403  # a streamed quote as much as a series
        async with reading(session, f"{url}/udf/streams", {"quote": SYMBOL}) as (response, reader):
            assert response.status == 200
            await reader.wait_for(lambda r: any(e.kind == "quote" for e in r.events))
            async with session.post(
                f"{url}/udf/streams/{stream_id(reader)}/subscribe", params={"quote": "eth/usd"}
            ) as refused:
                assert refused.status == 403


async def test_a_token_by_header_cookie_or_query_and_never_seen_again(
    guarded: tuple[Served, LiveHub], caplog: pytest.LogCaptureFixture
) -> None:
    url = guarded[0].url
    good, forged = token(), issue(b"f" * 40, "alice", ALICE, 600)
    query: dict[str, str | int] = {"symbol": SYMBOL, "resolution": "1", "from": T - 60, "to": T + 60}
    caplog.set_level(logging.DEBUG)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/udf/history", params={**query, "token": good}) as response:
            assert response.status == 200 and (await response.json())["s"] == "ok"
        async with session.get(f"{url}/udf/history", params=query, cookies={"candleflow_token": good}) as response:
            assert response.status == 200
        async with session.get(f"{url}/udf/history", params={**query, "token": forged}) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            refused = await response.text()
        async with session.get(f"{url}/api/indicators", params={**query, "kind": "sma", "period": 20, "token": good}):
            pass  # a token= beside a function's own parameters is not one of them
        async with session.get(f"{url}/udf/history", params={**query, "countback": "x", "token": good}) as response:
            assert response.status == 400
            bad = await response.text()
        async with session.get(f"{url}/metrics", headers=bearer(token("ops", (), admin=True))) as response:
            metrics = await response.text()
    for secret_text in (good, forged, good.split(".")[2], forged.split(".")[2]):
        assert secret_text not in caplog.text
        assert secret_text not in refused + bad + metrics


async def test_the_chart_signs_in_with_its_address_and_keeps_the_token_in_a_cookie(
    guarded: tuple[Served, LiveHub],
) -> None:
    url = guarded[0].url
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        async with session.get(f"{url}/udf/config") as response:
            assert response.status == 401
        async with session.get(f"{url}/?token={token()}&symbol={SYMBOL}", allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"] == f"/?symbol={SYMBOL}"
            cookie = response.headers["Set-Cookie"]
            assert re.search(r"HttpOnly", cookie, re.I) and "SameSite=Strict" in cookie and "Path=/" in cookie
        async with session.get(f"{url}/udf/config") as response:
            assert response.status == 200
        async with session.get(f"{url}/grid?token=forged", allow_redirects=False) as response:
            assert response.status == 401


async def test_admin_surface_by_admin_token_without_a_port_of_its_own(guarded: tuple[Served, LiveHub]) -> None:
    url = guarded[0].url
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/healthz") as response:
            public = await response.json()
        async with session.get(f"{url}/healthz", headers=bearer(token("ops", (), admin=True))) as response:
            detailed = await response.json()
    assert set(public) == {"status", "reason", "feeds"} and public["status"] == "ok"
    assert {"kafka", "database", "engine"} <= set(detailed)


async def test_admin_surface_on_its_own_port(stack: StackInfo, database_url: str, names: Names) -> None:
    await two_series(stack, database_url, names)
    settings = Settings.from_env(names.env(stack, database_url, admin_port=1))  # the harness picks a free port
    async with serving(settings) as server, aiohttp.ClientSession() as session:
        for path, status in (("/metrics", 404), ("/healthz", 200), ("/livez", 200)):
            async with session.get(f"{server.url}{path}") as response:
                assert response.status == status, path
                if path == "/healthz":
                    assert "kafka" not in await response.json()  # open access, but the details are the admin's
        async with session.get(f"{server.admin_url}/metrics") as response:
            assert response.status == 200 and "candleflow_http_requests_total" in await response.text()
        async with session.get(f"{server.admin_url}/healthz") as response:
            assert (await response.json())["kafka"]["bootstrap"] == stack.kafka_bootstrap
        async with session.get(f"{server.admin_url}/udf/config") as response:
            assert response.status == 404


async def test_open_access_serves_every_route_as_before(stack: StackInfo, database_url: str, names: Names) -> None:
    await logged(stack, database_url, names)
    settings = Settings.from_env(names.env(stack, database_url, sse_heartbeat=1))
    async with (
        serving_live(settings) as (server, _),
        aiohttp.ClientSession() as session,
        streams(session, server.url, []) as (_, reader),
        paused_replay(session, server.url, {}) as replay,
    ):
        await reader.wait_for(lambda r: any(e.kind == "hello" for e in r.events))
        sid = stream_id(reader)
        assert re.fullmatch(r"[0-9a-f]{32}", sid)  # uuid4: 122 random bits, the stream's only key
        ids = {"{stream}": sid, "{replay}": replay}
        for method, path in routes():
            code, _ = await call(session, server.url, method, example(method, path), OTHER, {}, ids)
            assert code in (200, 404) if path.startswith(BUILT) else code == 200, (method, path)
        async with session.get(f"{server.url}/?token=anything", allow_redirects=False) as page:
            assert (page.status, page.headers["Location"]) == (303, "/")
            assert "Set-Cookie" not in page.headers
