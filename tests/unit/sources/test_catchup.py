"""The seam between REST trades and the socket's: REST up to the first live trade, then
the buffered live ones; nothing doubled, nothing skipped; a failed fetch keeps what the
socket brought."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from candleflow.domain.ticks import Tick
from candleflow.sources.exchanges.http import ApiError
from candleflow.sources.gate import TradeGate
from candleflow.sources.stream.catchup import CatchUp
from tests.fakes.collecting_sink import CollectingSink

SYMBOL = "Binance:BTC/USDT"


def tick(n: int) -> Tick:
    return Tick(SYMBOL, 1_700_000_000_000 + n * 10, 100.0 + n, 1.0, "buy", str(n))


class Rest:
    def __init__(self, ticks: list[Tick], *, fail_after: int | None = None, gate: asyncio.Event | None = None) -> None:
        self.ticks = ticks
        self.fail_after = fail_after
        self.gate = gate
        self.asked: list[int] = []

    async def tick_sizes(self, natives: Sequence[str]) -> dict[str, str | None]:
        return {}

    async def trades(self, native: str, symbol: str, since_ms: int) -> AsyncIterator[list[Tick]]:
        self.asked.append(since_ms)
        if self.gate is not None:
            await self.gate.wait()
        for i in range(0, len(self.ticks), 3):
            if self.fail_after is not None and i >= self.fail_after:
                raise ApiError("HTTP 503")
            yield self.ticks[i : i + 3]

    async def close(self) -> None:
        pass


async def run(rest: Rest, live: list[Tick], since: int = 0) -> tuple[CatchUp, list[str]]:
    sink = CollectingSink()
    catchup = CatchUp("binance", SYMBOL, "BTCUSDT", since, rest, TradeGate(sink))
    catchup.start()
    for t in live:
        assert catchup.hold(t)
    assert rest.gate is not None
    rest.gate.set()
    await catchup.wait()
    return catchup, [t.id or "" for t in sink.ticks]


async def test_rest_up_to_the_first_live_trade_then_the_live_ones() -> None:
    history = [tick(n) for n in range(20)]
    catchup, ids = await run(Rest(history, gate=asyncio.Event()), [tick(n) for n in range(15, 25)], since=tick(2).ts)
    assert ids == [str(n) for n in range(2, 25)]
    assert catchup.completed and not catchup.active and catchup.fetched == 14  # 2..15: the first live ms too
    assert not catchup.hold(tick(30)), "once live, trades are the caller's to publish"


async def test_rest_trades_in_the_first_live_millisecond_are_kept_unless_live_aggregates() -> None:
    same = [Tick(SYMBOL, 1_700_000_000_000, 100.0, 1.0, "buy", str(n)) for n in range(6)]
    _, ids = await run(Rest(same, gate=asyncio.Event()), [same[4], same[5]])
    assert ids == ["0", "1", "2", "3", "4", "5"], "a venue stamping to the second puts them all in one ms"
    sink = CollectingSink()
    rest = Rest(same, gate=asyncio.Event())
    catchup = CatchUp("okx", SYMBOL, "BTC-USDT", 0, rest, TradeGate(sink), aggregated_live=True)
    catchup.start()
    catchup.hold(same[5]._replace(id="99"))  # one aggregate of fills 0..5
    rest.gate.set()  # type: ignore[union-attr]
    await catchup.wait()
    assert [t.id for t in sink.ticks] == ["99"]


async def test_a_quiet_socket_gets_every_rest_trade_and_duplicates_are_dropped() -> None:
    history = [tick(n) for n in range(10)]
    _, ids = await run(Rest(history, gate=asyncio.Event()), [tick(9), tick(10)])
    assert ids == [str(n) for n in range(11)]


async def test_a_failed_fetch_publishes_what_it_had_and_the_buffer_and_is_not_completed() -> None:
    history = [tick(n) for n in range(12)]
    catchup, ids = await run(Rest(history, fail_after=6, gate=asyncio.Event()), [tick(20)])
    assert ids == [str(n) for n in range(6)] + ["20"]
    assert not catchup.completed


async def test_finish_stops_fetching_and_flushes() -> None:
    rest = Rest([tick(n) for n in range(5)], gate=asyncio.Event())  # never released: the fetch hangs
    sink = CollectingSink()
    catchup = CatchUp("binance", SYMBOL, "BTCUSDT", 0, rest, TradeGate(sink))
    catchup.start()
    catchup.hold(tick(7))
    await asyncio.sleep(0)
    await catchup.finish()
    assert [t.id for t in sink.ticks] == ["7"] and not catchup.completed and not catchup.active
