"""The worker's own feed runs on the group leader only, and moves when the leader dies:
two workers never double the ticks, killing the leader does not stop them, and a new
leader's CryptoCompare feed never publishes a replayed trade the log already holds."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import re
import time
from typing import Any

import orjson
import pytest

from tests.harness import engine as harness
from tests.harness.kafka import consume_all, create_topics
from tests.harness.waiting import eventually

pytestmark = pytest.mark.integration

RATE = 40
#: Ticks a window must hold: a few seconds of the feed.
WINDOW = 120


async def offsets(stack: Any, topic: str) -> dict[int, int]:
    return await harness.highwaters(stack.kafka_bootstrap, topic)


async def ticks_between(stack: Any, topic: str, start: dict[int, int], count: int) -> list[tuple[str, str]]:
    """Wait until `count` ticks follow the `start` offsets; the (symbol, id) of every tick
    after them then."""

    async def enough() -> bool:
        return sum((await offsets(stack, topic)).values()) - sum(start.values()) >= count

    await eventually(enough, 60, interval=0.2, what=f"{count} ticks published: the feed runs somewhere")
    records = await consume_all(stack.kafka_bootstrap, topic, timeout=60)
    ticks = [orjson.loads(value) for _, value, partition, offset in records if offset >= start.get(partition, 0)]
    return [(tick["symbol"], tick["id"]) for tick in ticks]


def leads(worker: Any) -> bool:
    """Whether the worker's log says it runs the feed now."""
    text = str(worker.log_path.read_text(errors="replace"))
    return text.rfind("leads the group: starting") > text.rfind("no longer leads the group")


ASSIGNED = re.compile(r"engine reader assigned partitions (\[[0-9, ]*\])")


def held(worker: Any) -> set[int]:
    """The partitions the worker's engine holds now, by its log: those of its last
    assignment, unless a revocation came after it."""
    text = str(worker.log_path.read_text(errors="replace"))
    found = list(ASSIGNED.finditer(text))
    if not found or text.rfind("engine reader: partitions revoked") > found[-1].start():
        return set()
    return set(ast.literal_eval(found[-1].group(1)))


def settled(workers: list[Any], partitions: int) -> bool:
    """The group's rebalance is over: every partition held by exactly one worker, and one
    worker runs the feed."""
    holdings = [held(w) for w in workers if w.running]
    return (
        sorted(p for h in holdings for p in h) == list(range(partitions))
        and all(holdings)
        and sum(leads(w) for w in workers if w.running) == 1
    )


async def test_one_feed_per_group_and_it_survives_the_leader(
    stack: Any, names: Any, database_url: str, worker_factory: Any
) -> None:
    """A feed numbers its trades 1, 2, ... per symbol from the same seed: two feeds at
    once would publish every (symbol, id) twice; a feed that stopped publishes none."""
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2})
    env = names.env(
        stack,
        database_url,
        CANDLEFLOW_TICKS_PARTITIONS="2",
        CANDLEFLOW_SOURCE="synthetic",
        CANDLEFLOW_SYNTHETIC_RATE=str(RATE),
    )
    workers = [worker_factory.start(env), worker_factory.start(env)]
    for worker in workers:
        await asyncio.to_thread(worker.wait_ready)
    await eventually(lambda: sum(leads(w) for w in workers) == 1, 60, what="a single worker took the feed")
    first = await ticks_between(stack, names.ticks_topic, {}, WINDOW)
    assert len(first) == len(set(first)), "the feed ran twice: some trades were published twice"

    leader = next(w for w in workers if leads(w))
    follower = next(w for w in workers if w is not leader)
    leader.kill()
    await eventually(lambda: leads(follower), 90, what="the surviving worker took the feed over")
    handover = await offsets(stack, names.ticks_topic)
    second = await ticks_between(stack, names.ticks_topic, handover, WINDOW)
    assert len(second) == len(set(second)), "after the handover the feed ran twice"


PAIRS = {"0~Coinbase~BTC~USD": ("Coinbase", "BTC", "USD"), "0~Kraken~ETH~EUR": ("Kraken", "ETH", "EUR")}


class TradeStream:
    """Sends trades with fresh ids to the fake streamer while some client is subscribed
    to their channel (and the stream is not `paused`), and remembers every id it sent per
    symbol."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.sent: dict[str, set[str]] = {f"{m}:{b}/{q}": set() for m, b, q in PAIRS.values()}
        self.next_id = 1
        self.paused = False

    @property
    def trades(self) -> set[tuple[str, str]]:
        return {(symbol, i) for symbol, ids in self.sent.items() for i in ids}

    async def run(self, interval: float = 0.04) -> None:
        from tests.fakes.cryptocompare_server import trade_frame

        while True:
            await asyncio.sleep(interval)
            if self.paused:
                continue
            for channel, (market, base, quote) in PAIRS.items():
                if not any(channel in socket.subs for socket in self.server.live_sockets()):
                    continue
                trade_id = str(self.next_id)
                self.next_id += 1
                price = 100 + self.next_id % 50
                frame = trade_frame(market, base, quote, trade_id=trade_id, ts_ms=int(time.time() * 1000),
                                    price=float(price), qty=0.01)  # fmt: skip
                with contextlib.suppress(ConnectionError):
                    await self.server.trade(frame)
                self.sent[f"{market}:{base}/{quote}"].add(trade_id)


async def test_a_new_leader_never_counts_a_replayed_trade_twice(
    stack: Any, names: Any, database_url: str, worker_factory: Any
) -> None:
    """The streamer replays its last 20 trades on every subscribe. Leadership moves when
    the leader is SIGKILLed (and may move when the second worker joins, as the assignor
    decides); each new feed seeds its duplicate filter from the log, so the bars count
    every trade sent exactly once. The leader is killed once it has published what it was
    sent: a trade it received and had not published when it died would be lost for good
    once more than the replay window followed it, which no filter can help."""
    import asyncpg

    from tests.fakes.cryptocompare_server import VALID_KEY, FakeCryptoCompare
    from tests.harness.kafka import consume_all, create_topics

    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2})
    async with FakeCryptoCompare(replay_last=20) as server:
        env = names.env(
            stack,
            database_url,
            CANDLEFLOW_TICKS_PARTITIONS="2",
            CANDLEFLOW_SOURCE="cryptocompare",
            CANDLEFLOW_CRYPTOCOMPARE_API_KEY=VALID_KEY,
            CANDLEFLOW_CRYPTOCOMPARE_URL=server.ws_url,
            CANDLEFLOW_CRYPTOCOMPARE_PAIRS=",".join(TradeStream(server).sent),
        )
        stream = TradeStream(server)
        sending = asyncio.ensure_future(stream.run())
        try:
            workers = [worker_factory.start(env)]
            await asyncio.to_thread(workers[0].wait_ready)
            await eventually(
                lambda: server.connects >= 1 and bool(server.live_sockets()), 60, what="the first feed connects"
            )
            await eventually(
                lambda: all(len(server.history.get(c, ())) == 20 for c in PAIRS),
                60,
                what="the streamer's replay window is full",
            )
            workers.append(worker_factory.start(env))
            await asyncio.to_thread(workers[1].wait_ready)
            await eventually(
                lambda: settled(workers, 2) and len(server.live_sockets()) == 1,
                90,
                what="the rebalance after the second worker joined is over, one feed connected",
            )
            leader = next(w for w in workers if leads(w))
            follower = next(w for w in workers if w is not leader)
            stream.paused = True
            sent_so_far = stream.trades
            await eventually(
                lambda: logged_trades(stack, names.ticks_topic, sent_so_far), 60, what="the leader published its trades"
            )
            connects = server.connects
            leader.kill()
            stream.paused = False
            await eventually(
                lambda: server.connects > connects and bool(server.live_sockets()), 90, what="a new leader connects"
            )
            assert leads(follower)
            sent_at_handover = stream.next_id
            await eventually(lambda: stream.next_id > sent_at_handover + 50, 60, what="trades sent to the new feed")
        finally:
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
    sent = stream.trades
    await eventually(lambda: logged_trades(stack, names.ticks_topic, sent), 60, what="every trade sent is in the log")
    await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    logged = [orjson.loads(value) for _, value, _, _ in await consume_all(stack.kafka_bootstrap, names.ticks_topic)]
    ids = [(tick["symbol"], tick["id"]) for tick in logged]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} trades published twice"
    assert set(ids) == sent
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT symbol, sum(trades) AS n FROM bars WHERE resolution = '1M' GROUP BY symbol")
    finally:
        await conn.close()
    assert {r["symbol"]: r["n"] for r in rows} == {symbol: len(ids) for symbol, ids in stream.sent.items()}
    assert server.connects >= 2, "leadership never moved: the replays were not exercised"


async def logged_trades(stack: Any, topic: str, wanted: set[tuple[str, str]]) -> bool:
    """True once every (symbol, id) of `wanted` is in the topic."""
    records = await consume_all(stack.kafka_bootstrap, topic)
    return wanted <= {(tick["symbol"], tick["id"]) for tick in (orjson.loads(value) for _, value, _, _ in records)}
