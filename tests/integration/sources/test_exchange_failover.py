"""Every exchange feed in the worker, the way `make run` runs it, with two workers and a
SIGKILLed leader: the successor's feeds catch up from the log and count nothing twice,
every trade of every venue lands in the log once, and the stored bars are the
reference aggregation of that log.

All venues run at once in one `CANDLEFLOW_SOURCE`, each against its local server (the
CoinDesk Data streamer on markets of its own, so that no two feeds share a market here:
`test_two_feeds_of_one_market` is about that)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from candleflow.domain.ticks import parse_tick
from candleflow.stack import StackInfo
from tests.fakes.exchanges.base import FakeExchange
from tests.fakes.exchanges.cases import CASES, Case
from tests.harness import Names, WorkerFactory, WorkerProcess, consume_all, create_topics
from tests.harness.engine import assert_matches_log, highwaters, wait_absorbed
from tests.harness.waiting import eventually

pytestmark = pytest.mark.integration

VENUES = {
    **CASES,
    "coindesk": dataclasses.replace(
        CASES["coindesk"],
        markets={"binance:SOL-USDT": ("Binance:SOL/USDT", 240.0), "bitstamp:LTC-USD": ("Bitstamp:LTC/USD", 95.0)},
    ),
}


def leads(worker: WorkerProcess) -> bool:
    text = worker.log_path.read_text(errors="replace")
    return text.rfind("leads the group: starting") > text.rfind("no longer leads the group")


async def pump(servers: dict[str, tuple[Case, FakeExchange]], interval: float = 0.05) -> None:
    """A trade of every market of every venue each `interval`, for as long as it runs."""
    while True:
        for case, server in servers.values():
            for native in case.markets:
                with contextlib.suppress(ConnectionError):
                    await server.trade(native)
        await asyncio.sleep(interval)


def all_subscribed(servers: dict[str, tuple[Case, FakeExchange]], after: dict[str, int] | None = None) -> bool:
    return all(
        all(server.subscribed(native) for native in case.markets) and (after is None or server.connects > after[kind])
        for kind, (case, server) in servers.items()
    )


async def published(stack: StackInfo, topic: str) -> int:
    return sum((await highwaters(stack.kafka_bootstrap, topic, wait=False)).values())


async def more_than(stack: StackInfo, topic: str, count: int) -> bool:
    return await published(stack, topic) > count


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def feeds_report_a_venue_going_away(worker: WorkerProcess, server: FakeExchange) -> None:
    """/healthz and /metrics of the leading worker: every feed up, then Bitstamp down with
    the client's reason once its server is gone for longer than CANDLEFLOW_FEED_DOWN_AFTER."""
    status, text = await asyncio.to_thread(get, f"{worker.url}/healthz")
    health = json.loads(text)
    assert status == 200 and health["status"] == "ok" and health["feeds"]["status"] == "up", health["feeds"]
    markets = health["feeds"]["sources"]
    assert set(markets) == set(VENUES)
    assert all(m["connected"] and m["last_trade_age_s"] is not None for v in markets.values() for m in v.values())
    _, metrics = await asyncio.to_thread(get, f"{worker.url}/metrics")
    assert 'candleflow_feed_connected{source="bitstamp",symbol="Bitstamp:BTC/USD"} 1.0' in metrics
    assert "candleflow_feed_last_trade_timestamp_seconds{" in metrics
    await server.stop()

    async def degraded() -> tuple[int, dict[str, Any], str] | None:
        status, text = await asyncio.to_thread(get, f"{worker.url}/healthz")
        health = json.loads(text)
        reasons = " ".join(reason for _, _, reason in health["feeds"]["down"])
        return (
            (status, health, reasons)
            if health["status"] == "degraded" and "cannot connect" in reasons.lower()
            else None
        )

    status, health, reasons = await eventually(degraded, 60, interval=0.5, what="/healthz degraded by the lost venue")
    assert status == 200 and health["status"] == "degraded", health
    down = {(source, symbol) for source, symbol, _ in health["feeds"]["down"]}
    assert down == {("bitstamp", "Bitstamp:BTC/USD"), ("bitstamp", "Bitstamp:ETH/USD")}
    assert "cannot connect" in reasons.lower(), reasons  # the client's own words, after its retry failed
    _, metrics = await asyncio.to_thread(get, f"{worker.url}/metrics")
    assert 'candleflow_feed_connected{source="bitstamp",symbol="Bitstamp:BTC/USD"} 0.0' in metrics
    assert 'candleflow_feed_connected{source="kraken",symbol="Kraken:BTC/USD"} 1.0' in metrics


async def test_a_sigkilled_leaders_successor_counts_nothing_twice(
    stack: StackInfo, names: Names, database_url: str, worker_factory: WorkerFactory
) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2})
    async with contextlib.AsyncExitStack() as stack_of_servers:
        servers = {
            kind: (case, await stack_of_servers.enter_async_context(case.server(history=150, minutes=50)))
            for kind, case in VENUES.items()
        }
        env = names.env(
            stack,
            database_url,
            CANDLEFLOW_TICKS_PARTITIONS="2",
            CANDLEFLOW_SOURCE=",".join(case.source() for case, _ in servers.values()),
            CANDLEFLOW_MARKET_HISTORY="1",
            CANDLEFLOW_FEED_DOWN_AFTER="3",
        )
        for case, server in servers.values():
            env.update(case.env(server))
        pumping = asyncio.ensure_future(pump(servers))
        try:
            first = worker_factory.start(env)
            await asyncio.to_thread(first.wait_ready, 120)
            await eventually(lambda: all_subscribed(servers), 90, what="every venue's feed subscribes")
            second = worker_factory.start(env)
            await asyncio.to_thread(second.wait_ready, 120)
            await eventually(lambda: leads(first) != leads(second), 90, what="one worker leads")
            at_start = await published(stack, names.ticks_topic)
            await eventually(  # trades flow through the first leader's feeds
                lambda: more_than(stack, names.ticks_topic, at_start + 50), 60, what="the leader's feeds publish"
            )
            leader, follower = (first, second) if leads(first) else (second, first)
            connects = {kind: server.connects for kind, (_, server) in servers.items()}
            leader.kill()
            await eventually(lambda: leads(follower), 90, what="the surviving worker takes the feeds over")
            await eventually(
                lambda: all_subscribed(servers, connects), 90, what="every venue's feed reconnects from the successor"
            )
            at_handover = await published(stack, names.ticks_topic)
            await eventually(
                lambda: more_than(stack, names.ticks_topic, at_handover + 50), 60, what="the successor's feeds publish"
            )
        finally:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumping
        want = {
            (symbol, str(t.id), t.ts, float(t.price), float(t.qty))
            for case, server in servers.values()
            for native, (symbol, _) in case.markets.items()
            for t in server.book.trades[native]
        }

        async def logged() -> list[tuple[str, str, int, float, float]] | None:
            records = await consume_all(stack.kafka_bootstrap, names.ticks_topic, timeout=60)
            ticks = [parse_tick(value) for _, value, _, _ in records]
            found = [(t.symbol, t.id or "", t.ts, t.price, t.qty) for t in ticks]
            return found if want <= set(found) else None

        got = await eventually(logged, 60, interval=0.5, what="every trade the venues sent is in the log")
        await feeds_report_a_venue_going_away(follower, servers["bitstamp"][1])
    missing = want - set(got)
    assert not missing, f"{len(missing)} trades never reached the log, e.g. {sorted(missing)[:3]}"
    assert len(got) == len(set(got)) == len(want), f"{len(got) - len(set(got))} trades published twice"
    await wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    await assert_matches_log(stack.kafka_bootstrap, names.ticks_topic, database_url)
