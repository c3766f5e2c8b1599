"""A venue's markets over several connections when its limit per connection asks for
it, subscribed at its pace (the local Binance closes a connection that sends more than
5 messages a second: six at once would be cut), with markets the venue does not list refused by name."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from candleflow.sources.exceptions import SourceError
from candleflow.sources.exchanges import binance
from candleflow.sources.gate import TradeGate
from candleflow.sources.stream.backoff import Timing
from candleflow.sources.stream.source import StreamSource
from tests.fakes.collecting_sink import CollectingSink
from tests.fakes.exchanges.base import Book, FakeExchange
from tests.fakes.exchanges.binance import BinanceDialect

PAIRS = [f"C{i}" for i in range(13)]


async def test_markets_split_over_connections_and_paced_below_the_venue_limit() -> None:
    book = Book({f"{p.lower()}usdt": 10.0 for p in PAIRS})
    spec = dataclasses.replace(
        binance.SPEC, limits=dataclasses.replace(binance.LIMITS, pairs_per_connection=6, pairs_per_message=1)
    )
    symbols = [f"Binance:{p}/USDT" for p in PAIRS]
    async with FakeExchange(BinanceDialect(), book, beat_interval=5.0) as server:
        source = StreamSource(spec, symbols, ws_url=server.ws_url, rest_url=server.rest_url,
                              gate=TradeGate(CollectingSink()), timing=Timing(connect_pace_scale=0.05))  # fmt: skip
        stop = asyncio.Event()
        task = asyncio.create_task(source.run(stop))
        await server.wait(lambda: all(server.subscribed(n) for n in book.trades), 30)
        stop.set()
        await task
    assert [len(s.subs) for s in server.sockets] == [6, 6, 1]
    assert server.closed_for == [], "a connection was cut for sending too fast"
    assert [len(s.received) for s in server.sockets] == [6, 6, 1], "one SUBSCRIBE per pair, as configured"


async def test_markets_the_venue_does_not_list_are_refused_by_name() -> None:
    book = Book({"btcusdt": 10.0})
    async with FakeExchange(BinanceDialect(), book) as server:
        gate = TradeGate(CollectingSink())
        source = StreamSource(binance.SPEC, ["Binance:BTC/USDT", "Binance:NOPE/USDT"], ws_url=server.ws_url,
                              rest_url=server.rest_url, gate=gate)  # fmt: skip
        stop = asyncio.Event()
        task = asyncio.create_task(source.run(stop))
        await server.wait(lambda: server.subscribed("btcusdt"), 30)
        stop.set()
        await task
        assert source.refused == {"Binance:NOPE/USDT": "Binance lists no market NOPEUSDT"}
        assert gate.status.markets[("binance", "Binance:NOPE/USDT")].reason == "Binance lists no market NOPEUSDT"
        alone = StreamSource(binance.SPEC, ["Binance:NOPE/USDT"], ws_url=server.ws_url, rest_url=server.rest_url,
                             gate=gate)  # fmt: skip
        with pytest.raises(SourceError, match=r"NOPE/USDT: Binance lists no market NOPEUSDT.*fix CANDLEFLOW_SOURCE"):
            await alone.run(asyncio.Event())
