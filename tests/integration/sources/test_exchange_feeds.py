"""Every exchange feed against a local server that speaks its documented protocol, into
the real Kafka: the ticks topic ends up holding exactly the venue's trades since the
history window began, each once, through history, live trades, malformed frames, a bad
trade, a refused pair, forced and scheduled disconnects, and a restart of the feed.

One test per venue, parametrized over the shared cases of `tests.fakes.exchanges.cases`;
the feed runs in this process (`candleflow.sources.runner.run_feeds`, as the worker and
`candleflow ingest` run it), its settings pointing at the fake."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import orjson
import pytest

from candleflow.core.feed_status import FeedStatus
from candleflow.core.metrics import REGISTRY
from candleflow.core.settings import Settings
from candleflow.domain.ticks import parse_tick
from candleflow.sources.publisher import TickPublisher
from candleflow.sources.runner import run_feeds
from candleflow.sources.stream.backoff import Timing
from candleflow.stack import StackInfo
from tests.fakes.exchanges.base import FakeExchange, FakeTrade
from tests.fakes.exchanges.cases import CASES, Case
from tests.harness import Names, consume_all, create_topics
from tests.harness.waiting import eventually

pytestmark = pytest.mark.integration

HISTORY = 300
FAST = Timing(backoff_initial=0.2, min_reconnect_delay=0.2, liveness_scale=0.3, connect_pace_scale=0.05,
              scheduled_reconnect_delay=0.1)  # fmt: skip


def settings_for(
    stack: StackInfo, names: Names, case: Case, server: FakeExchange, source: str, **extra: str
) -> Settings:
    env = {**names.env(stack, stack.database_url), **case.env(server), "CANDLEFLOW_SOURCE": source, **extra}
    return dataclasses.replace(Settings.from_env(env), ticks_partitions=2, market_history=2.0, feed_down_after=5.0)


async def logged(stack: StackInfo, topic: str) -> list[tuple[str, str]]:
    records = await consume_all(stack.kafka_bootstrap, topic, timeout=60)
    return [(tick.symbol, tick.id or "") for tick in (parse_tick(value) for _, value, _, _ in records)]


def expected(case: Case, server: FakeExchange) -> set[tuple[str, str]]:
    return {
        (symbol, str(trade.id))
        for native, (symbol, _) in case.markets.items()
        for trade in server.book.trades[native]
        if trade.price != "-5"
    }


async def trade_all(case: Case, server: FakeExchange, count: int) -> None:
    for native in case.markets:
        await server.trade(native, count)


class Feed:
    """`run_feeds` in a task, with the fast timing and a status to read."""

    def __init__(self, settings: Settings, publisher: TickPublisher) -> None:
        self.stop = asyncio.Event()
        self.status = FeedStatus(down_after=settings.feed_down_after)
        self.task = asyncio.create_task(run_feeds(settings, publisher, self.stop, self.status, timing=FAST))

    async def end(self) -> None:
        self.stop.set()
        async with asyncio.timeout(30):
            await self.task


async def scheduled_reconnect(case: Case, server: FakeExchange) -> bool:
    """Ask for a reconnect the venue's documented way; False for venues without one."""
    dialect: Any = server.dialect
    if case.kind == "binance":
        await dialect.shutdown(server)
    elif case.kind == "bitstamp":
        await dialect.request_reconnect(server)
    elif case.kind == "okx":
        await dialect.notice(server)
    else:
        return False
    return True


@pytest.mark.parametrize("kind", sorted(CASES))
async def test_the_topic_holds_every_trade_once(kind: str, stack: StackInfo, names: Names) -> None:
    case = CASES[kind]
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2, names.dead_topic: 1})
    async with case.server(history=HISTORY, beat=0.2) as server:
        settings = settings_for(stack, names, case, server, case.source([*case.symbols, case.unknown[1]]))
        async with TickPublisher.from_settings(settings, source=kind) as publisher:
            feed = Feed(settings, publisher)
            await server.wait(lambda: all(server.subscribed(n) for n in case.markets), 30)
            await server.wait(lambda: (case.kind, case.unknown[1]) in feed.status.markets and
                              bool(feed.status.markets[(case.kind, case.unknown[1])].reason), 30)  # fmt: skip
            for _ in range(10):
                await trade_all(case, server, 3)
            await server.send_raw("{this is not json")
            bad = server.book.make(next(iter(case.markets)), int(time.time() * 1000))
            await server.push([dataclasses.replace(bad, price="-5")])
            connects = server.connects
            await server.disconnect_all()
            await trade_all(case, server, 4)  # while no socket is open: only REST can bring them
            await server.wait(lambda: server.connects > connects and all(server.subscribed(n) for n in case.markets))
            await trade_all(case, server, 5)
            if await scheduled_reconnect(case, server):
                await server.wait(lambda: server.connects > connects + 1, 30)
                await server.wait(lambda: all(server.subscribed(n) for n in case.markets))
            await trade_all(case, server, 5)
            want = expected(case, server)
            await wait_logged(stack, names.ticks_topic, want)
            snapshot = feed.status.snapshot()
            await feed.end()

            # A second run of the feed (a restart): no second history, the gap filled from the log.
            await trade_all(case, server, 6)
            feed = Feed(settings, publisher)
            await server.wait(lambda: all(server.subscribed(n) for n in case.markets), 30)
            await trade_all(case, server, 2)
            want = expected(case, server)
            await wait_logged(stack, names.ticks_topic, want)
            await feed.end()
            await publisher.flush()

    got = await logged(stack, names.ticks_topic)
    assert len(got) == len(set(got)), f"{len(got) - len(set(got))} trades published twice"
    assert set(got) == want
    records = await consume_all(stack.kafka_bootstrap, names.ticks_topic, timeout=60)
    sizes = {parse_tick(value).tick_size for _, value, _, _ in records} - {None}
    assert sizes == ({case.tick_size} if case.tick_size else set()), "the instrument list's increment rides on ticks"
    dead = await consume_all(stack.kafka_bootstrap, names.dead_topic, timeout=30)
    reasons = [orjson.loads(value)["reason"] for _, value, _, _ in dead]
    assert any("price must be > 0" in reason for reason in reasons), reasons
    sources = snapshot["sources"]
    assert isinstance(sources, dict)
    refused = sources[kind][case.unknown[1]]
    assert not refused["connected"] and case.unknown[0].partition(":")[2] in str(refused["reason"])
    assert any(state["not_understood"] >= 1 for state in sources[kind].values())
    assert all(sources[kind][s]["reconnects"] >= 1 for s in case.symbols)


async def wait_logged(stack: StackInfo, topic: str, want: set[tuple[str, str]]) -> None:
    async def all_logged() -> bool:
        return want <= set(await logged(stack, topic))

    await eventually(all_logged, 60, interval=0.3, what=f"{len(want)} trades in {topic}")


async def test_two_feeds_of_one_market_count_each_trade_once(stack: StackInfo, names: Names) -> None:
    """Coinbase's own socket and CryptoCompare's legacy streamer feed `Coinbase:BTC/USD` at
    once, both with Coinbase's trade ids (CryptoCompare replays its last 20 on subscribe):
    one series, every trade once, whichever feed brought it first."""
    from tests.fakes.cryptocompare_server import VALID_KEY, FakeCryptoCompare

    case = dataclasses.replace(CASES["coinbase"], markets={"BTC-USD": ("Coinbase:BTC/USD", 97000.0)})
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2, names.dead_topic: 1})
    async with case.server(history=50, beat=0.2) as coinbase, FakeCryptoCompare(replay_last=20) as streamer:
        for trade in coinbase.book.trades["BTC-USD"]:
            streamer.add_history(cc_frame(trade))
        settings = settings_for(
            stack,
            names,
            case,
            coinbase,
            "coinbase:BTC/USD,cryptocompare:Coinbase:BTC/USD",
            CANDLEFLOW_CRYPTOCOMPARE_API_KEY=VALID_KEY,
            CANDLEFLOW_CRYPTOCOMPARE_URL=streamer.ws_url,
        )
        async with TickPublisher.from_settings(settings, source="both") as publisher:
            feed = Feed(settings, publisher)
            await coinbase.wait(lambda: coinbase.subscribed("BTC-USD"), 30)
            await streamer.wait_until(lambda: streamer.subscribed("0~Coinbase~BTC~USD", connection=1))
            for n in range(40):
                trades = await coinbase.trade("BTC-USD", 2)
                for trade in trades if n % 3 else reversed(trades):  # either feed may be first
                    await streamer.trade(cc_frame(trade))
            before = dropped()
            await streamer.disconnect_all()  # its reconnect replays the last 20 trades
            await coinbase.trade("BTC-USD", 3)
            want = expected(case, coinbase)
            await wait_logged(stack, names.ticks_topic, want)
            # the replay of the 20 newest trades after the reconnect, all dropped as known
            await coinbase.wait(lambda: dropped() >= before + 20, 30)
            await feed.end()
            await publisher.flush()
    got = await logged(stack, names.ticks_topic)
    assert len(got) == len(set(got)), f"{len(got) - len(set(got))} trades counted twice"
    assert set(got) == want


def dropped() -> float:
    """Trades the process's gate dropped as already published, from the CryptoCompare feed."""
    return float(REGISTRY.get_sample_value("candleflow_feed_duplicates_total", {"source": "cryptocompare"}) or 0.0)


def cc_frame(trade: FakeTrade) -> dict[str, Any]:
    from tests.fakes.cryptocompare_server import trade_frame

    return trade_frame("Coinbase", "BTC", "USD", trade_id=str(trade.id), ts_ms=trade.ts, price=float(trade.price),
                       qty=float(trade.qty), flags=2 if trade.side == "buy" else 1)  # fmt: skip
