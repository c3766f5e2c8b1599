"""The CryptoCompare client against a local streamer (tests/fakes/cryptocompare_server.py).

The client's seams are constructor arguments: the URL of the local server, an
in-memory sink instead of the Kafka publisher, short heartbeat windows, and a `sleep`
that records every back-off delay and waits only a moment.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from candleflow.domain.ticks import Tick
from candleflow.sources.cryptocompare import CryptoCompareClient, Timing
from candleflow.sources.exceptions import Unauthorized
from candleflow.sources.stream.backoff import Backoff
from tests.fakes.collecting_sink import CollectingSink
from tests.fakes.cryptocompare_server import VALID_KEY, FakeCryptoCompare, trade_frame
from tests.harness.waiting import eventually

BTC = "0~Coinbase~BTC~USD"
ETH = "0~Kraken~ETH~EUR"
FAST = Timing(
    heartbeat_interval=10.0,
    backoff_initial=0.01,
    backoff_max=0.05,
    min_reconnect_delay=0.0,
    rate_limit_delay=5.0,
    too_many_sockets_delay=60.0,
    connect_timeout=5.0,
)


class RecordingSleep:
    """Records the delays the client asks for; really waits at most `cap` seconds."""

    def __init__(self, cap: float = 0.01) -> None:
        self.delays: list[float] = []
        self.cap = cap

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(min(delay, self.cap))


def btc_trade(n: int, **kw: Any) -> dict[str, Any]:
    ts_ms = int(time.time() * 1000) - 60_000 + n
    return trade_frame("Coinbase", "BTC", "USD", trade_id=str(1000 + n), ts_ms=ts_ms, price=97000.5 + n, qty=0.01, **kw)


@pytest.fixture
async def server() -> AsyncIterator[FakeCryptoCompare]:
    async with FakeCryptoCompare(heartbeat_interval=0.05) as fake:
        yield fake


class Running:
    def __init__(self, client: CryptoCompareClient) -> None:
        self.client = client
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(client.run(self.stop))

    async def finish(self) -> None:
        self.stop.set()
        async with asyncio.timeout(5):
            await self.task


@pytest.fixture
async def start(server: FakeCryptoCompare) -> AsyncIterator[Callable[..., Running]]:
    running: list[Running] = []

    def _start(
        symbols: tuple[str, ...] = ("Coinbase:BTC/USD",),
        *,
        key: str = VALID_KEY,
        timing: Timing = FAST,
        sink: CollectingSink | None = None,
        sleep: RecordingSleep | None = None,
    ) -> Running:
        client = CryptoCompareClient(
            sink or CollectingSink(),
            symbols,
            api_key=key,
            url=server.ws_url,
            timing=timing,
            sleep=sleep or RecordingSleep(),
        )
        run = Running(client)
        running.append(run)
        return run

    yield _start
    for run in running:
        if not run.task.done():
            await run.finish()


def sink_of(run: Running) -> CollectingSink:
    sink = run.client.sink
    assert isinstance(sink, CollectingSink)
    return sink


async def test_trades_are_parsed_exactly(server: FakeCryptoCompare, start: Callable[..., Running]) -> None:
    run = start()
    sink = sink_of(run)
    async with asyncio.timeout(5):
        await server.wait_until(lambda: server.subscribed(BTC, connection=1))
    ts_ms = int(time.time() * 1000) - 5_000
    frame = trade_frame(
        "Coinbase", "BTC", "USD", trade_id="81234", ts_ms=ts_ms, price=97000.57, qty=0.00123456, flags=1
    )
    await server.trade(frame)
    await eventually(lambda: len(sink.ticks) == 1)
    assert sink.ticks == [Tick("Coinbase:BTC/USD", ts_ms, 97000.57, 0.00123456, "sell", "81234")]
    assert run.client.active == {BTC}
    await run.finish()


async def test_replayed_trades_on_subscribe_are_published_once(
    server: FakeCryptoCompare, start: Callable[..., Running]
) -> None:
    for n in range(5):
        server.add_history(btc_trade(n))
    run = start()
    sink = sink_of(run)
    await eventually(lambda: len(sink.ticks) == 5)
    assert [t.id for t in sink.ticks] == ["1000", "1001", "1002", "1003", "1004"]


async def test_dropped_connection_reconnects_resubscribes_and_publishes_no_duplicate(
    server: FakeCryptoCompare, start: Callable[..., Running]
) -> None:
    for n in range(5):
        server.add_history(btc_trade(n))
    sleep = RecordingSleep()
    run = start(("Coinbase:BTC/USD", "Kraken:ETH/EUR"), sleep=sleep)
    sink = sink_of(run)
    await eventually(lambda: len(sink.ticks) == 5)
    await server.trade(btc_trade(5))
    await server.trade(btc_trade(6))
    await eventually(lambda: len(sink.ticks) == 7)

    await server.disconnect_all()
    async with asyncio.timeout(5):
        await server.wait_until(lambda: server.subscribed(BTC, connection=2) and server.subscribed(ETH, connection=2))
    # The streamer replayed the last 7 trades on the new socket; then one new trade comes.
    await server.trade(btc_trade(7))
    await eventually(lambda: len(sink.ticks) == 8)
    await server.trade(btc_trade(8))  # a sentinel: a duplicate of the replay would come before it
    await eventually(lambda: sink.ticks[-1].id == "1008")
    ids = [t.id for t in sink.ticks]
    assert ids == [str(1000 + n) for n in range(9)]
    assert run.client.stats.duplicates == 7
    assert run.client.stats.connections == 2
    assert len(sleep.delays) == 1
    assert server.sockets[1].actions == [{"action": "SubAdd", "subs": [BTC, ETH]}]


async def test_two_missed_heartbeats_reconnect(server: FakeCryptoCompare, start: Callable[..., Running]) -> None:
    timing = Timing(heartbeat_interval=0.1, backoff_initial=0.01, backoff_max=0.02, min_reconnect_delay=0.0)
    run = start(timing=timing)
    async with asyncio.timeout(5):
        await server.wait_until(lambda: server.subscribed(BTC, connection=1))
    await eventually(lambda: run.client.stats.heartbeats >= 3)  # three beats, two allowed to be missed
    assert run.client.stats.connections == 1
    server.heartbeats_enabled = False
    async with asyncio.timeout(5):
        await server.wait_until(lambda: server.connects >= 2)
    # two intervals of silence after the last heartbeat, not one (counted from the last
    # one sent, so a stalled machine cannot make the silence look shorter than it was)
    assert time.monotonic() - server.last_heartbeat_at >= 2 * timing.heartbeat_interval
    assert run.client.stats.missed_heartbeat_reconnects == 1
    server.heartbeats_enabled = True
    async with asyncio.timeout(5):
        await server.wait_until(lambda: server.subscribed(BTC, connection=2))


def test_production_timing_waits_at_least_five_seconds() -> None:
    delays: list[float] = []
    for _ in range(20):
        backoff = Backoff(Timing())
        delays.extend(backoff.next() for _ in range(12))
    assert min(delays) >= 5.0
    assert max(delays) <= 120.0 * 1.25
    assert Backoff(Timing()).next(60.0) >= 60.0


async def test_unauthorized_stops_with_a_message_about_the_key(
    server: FakeCryptoCompare, start: Callable[..., Running]
) -> None:
    run = start(key="wrong-key")
    with pytest.raises(Unauthorized, match="CANDLEFLOW_CRYPTOCOMPARE_API_KEY"):
        async with asyncio.timeout(5):
            await run.task
    assert server.connects == 1


def test_missing_key_is_refused_before_connecting() -> None:
    with pytest.raises(Unauthorized, match="CANDLEFLOW_CRYPTOCOMPARE_API_KEY"):
        CryptoCompareClient(CollectingSink(), ["Coinbase:BTC/USD"], api_key="")


@pytest.mark.parametrize(
    ("message", "least"),
    [("RATE_LIMIT_OPENING_SOCKETS_TOO_FAST", 5.0), ("TOO_MANY_SOCKETS_MAX_1_PER_CLIENT", 60.0)],
)
async def test_rate_limit_backs_off_then_reconnects(
    server: FakeCryptoCompare, start: Callable[..., Running], message: str, least: float
) -> None:
    server.refusals.append(message)
    sleep = RecordingSleep()
    run = start(sleep=sleep)
    async with asyncio.timeout(5):
        await server.wait_until(lambda: server.subscribed(BTC, connection=2))
    assert len(sleep.delays) == 1
    assert sleep.delays[0] >= least
    await server.trade(btc_trade(1))
    await eventually(lambda: len(sink_of(run).ticks) == 1)


async def test_invalid_sub_is_reported_and_the_others_go_on(
    server: FakeCryptoCompare, start: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    run = start(("Coinbase:BTC/USD", "Nowhere:BTC/USD"))
    sink = sink_of(run)
    await eventually(lambda: "0~Nowhere~BTC~USD" in run.client.refused)
    assert run.client.refused == {"0~Nowhere~BTC~USD": "INVALID_SUB"}
    assert "0~Nowhere~BTC~USD" in caplog.text
    await server.trade(btc_trade(1))
    await eventually(lambda: len(sink.ticks) == 1)
    # After a reconnect the refused channel is not asked for again.
    await server.disconnect_all()
    async with asyncio.timeout(5):
        await server.wait_until(lambda: server.subscribed(BTC, connection=2))
    assert server.sockets[1].actions == [{"action": "SubAdd", "subs": [BTC]}]


async def test_too_many_subscriptions_keeps_the_socket(start: Callable[..., Running]) -> None:
    async with FakeCryptoCompare(heartbeat_interval=0.05, max_subs_per_socket=1) as small:
        client = CryptoCompareClient(
            CollectingSink(), ["Coinbase:BTC/USD", "Kraken:ETH/EUR"], api_key=VALID_KEY, url=small.ws_url, timing=FAST
        )
        run = Running(client)
        await eventually(lambda: bool(client.refused))
        assert client.refused == {ETH: "TOO_MANY_SUBSCRIPTIONS_MAX_1_PER_SOCKET"}
        beats = client.stats.heartbeats
        await eventually(lambda: client.stats.heartbeats >= beats + 2)  # the socket lives on after the refusal
        assert small.connects == 1
        assert client.active == {BTC}
        await run.finish()


async def test_force_disconnect_reconnects_after_the_minimum_delay(
    server: FakeCryptoCompare, start: Callable[..., Running]
) -> None:
    sleep = RecordingSleep()
    timing = Timing(heartbeat_interval=10.0, backoff_initial=0.01, backoff_max=0.05, min_reconnect_delay=2.0)
    start(timing=timing, sleep=sleep)
    async with asyncio.timeout(5):
        await server.wait_until(lambda: server.subscribed(BTC, connection=1))
    await server.disconnect_all(force_message=True)
    async with asyncio.timeout(5):
        await server.wait_until(lambda: server.subscribed(BTC, connection=2))
    assert sleep.delays and sleep.delays[0] >= 2.0


async def test_malformed_trade_goes_to_the_dead_letters(
    server: FakeCryptoCompare, start: Callable[..., Running]
) -> None:
    run = start()
    sink = sink_of(run)
    async with asyncio.timeout(5):
        await server.wait_until(lambda: server.subscribed(BTC, connection=1))
    bad = btc_trade(1)
    bad["P"] = "n/a"
    await server.trade(bad)
    await server.send_raw("this is not a frame")
    await server.trade(btc_trade(2))
    await eventually(lambda: len(sink.ticks) == 1 and len(sink.rejected) == 1)
    raw, reason = sink.rejected[0]
    assert "price is not a number" in reason
    assert '"P":"n/a"' in raw
    assert run.client.stats.bad_trades == 1
    # Replayed again after a reconnect, the same bad trade is not dead-lettered twice.
    await server.disconnect_all()
    async with asyncio.timeout(5):
        await server.wait_until(lambda: server.subscribed(BTC, connection=2))
    await server.trade(btc_trade(3))
    await eventually(lambda: len(sink.ticks) == 2)
    assert len(sink.rejected) == 1


async def test_subscribe_and_unsubscribe_while_running(
    server: FakeCryptoCompare, start: Callable[..., Running]
) -> None:
    run = start()
    async with asyncio.timeout(5):
        await server.wait_until(lambda: server.subscribed(BTC, connection=1))
    await run.client.subscribe(["Kraken:ETH/EUR"])
    async with asyncio.timeout(5):
        await server.wait_until(lambda: server.subscribed(ETH, connection=1))
    await run.client.unsubscribe(["Coinbase:BTC/USD"])
    async with asyncio.timeout(5):
        await server.wait_until(lambda: not server.subscribed(BTC, connection=1))
    await eventually(lambda: run.client.active == {ETH})
    assert run.client.wanted == {ETH}


async def test_stop_ends_run_promptly(server: FakeCryptoCompare, start: Callable[..., Running]) -> None:
    run = start()
    async with asyncio.timeout(5):
        await server.wait_until(lambda: server.subscribed(BTC, connection=1))
    started = time.monotonic()
    await run.finish()
    assert time.monotonic() - started < 1.0
    await eventually(lambda: not server.live_sockets())
