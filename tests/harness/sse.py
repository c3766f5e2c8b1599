"""Server-Sent Events clients for the stream tests: read a stream's events in the
background, wait on what arrived, and put bar updates on the updates topic."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig
from candleflow.stack import StackInfo
from tests.harness.kafka import create_topics
from tests.harness.names import Names
from tests.harness.reference import LogTick, reference_bars
from tests.harness.udf_seed import insert_bars, insert_symbols
from tests.harness.waiting import eventually

SYMBOL = "Coinbase:BTC/USD"
OTHER = "Kraken:ETH/USD"
T = 1_704_067_200  # 2024-01-01T00:00Z


@dataclass
class Event:
    kind: str  # "bar", "correction", "reset", "hello", "subscribed" or "comment"
    data: Any = None
    id: int | None = None


@dataclass
class Reader:
    """Collects a stream's events in the background."""

    events: list[Event] = field(default_factory=list)
    #: The server ended the stream.
    ended: bool = False

    def bars(self) -> list[dict[str, Any]]:
        return [e.data for e in self.events if e.kind == "bar"]

    def of(self, kind: str, symbol: str, resolution: str) -> list[dict[str, Any]]:
        """The data of the `kind` events of one series."""
        return [
            e.data
            for e in self.events
            if e.kind == kind and e.data.get("symbol") == symbol and e.data.get("resolution") == resolution
        ]

    @property
    def last_id(self) -> int:
        return max(e.id for e in self.events if e.id is not None)

    async def wait_for(self, predicate: Callable[[Reader], bool], timeout: float = 30) -> None:  # noqa: ASYNC109
        await eventually(lambda: predicate(self), timeout, what=f"stream condition; last events {self.events[-10:]}")


async def read_events(response: aiohttp.ClientResponse, reader: Reader) -> None:
    kind, data, event_id = "message", [], None
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith(":"):
            reader.events.append(Event("comment", line[1:].strip()))
        elif line.startswith("id:"):
            event_id = int(line[3:].strip())
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            reader.events.append(Event(kind, orjson.loads("\n".join(data)), event_id))
            kind, data, event_id = "message", [], None
    reader.ended = True


@contextlib.asynccontextmanager
async def reading(
    session: aiohttp.ClientSession, url: str, params: Any, headers: dict[str, str] | None = None
) -> AsyncIterator[tuple[aiohttp.ClientResponse, Reader]]:
    """An SSE response whose events a background task collects into a `Reader`."""
    async with session.get(url, params=params, headers=headers or {}) as response:
        reader = Reader()
        task = asyncio.create_task(read_events(response, reader))
        try:
            yield response, reader
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await task


@contextlib.asynccontextmanager
async def stream(
    session: aiohttp.ClientSession, url: str, symbol: str, resolution: str
) -> AsyncIterator[tuple[aiohttp.ClientResponse, Reader]]:
    """`/udf/stream` of one series of the server at `url`."""
    async with reading(session, f"{url}/udf/stream", {"symbol": symbol, "resolution": resolution}) as opened:
        yield opened


@contextlib.asynccontextmanager
async def streams(
    session: aiohttp.ClientSession, url: str, subs: Sequence[str], last_id: int | None = None
) -> AsyncIterator[tuple[aiohttp.ClientResponse, Reader]]:
    """`/udf/streams` of the server at `url` with `subs`, resuming after `last_id`."""
    headers = {} if last_id is None else {"Last-Event-ID": str(last_id)}
    async with reading(session, f"{url}/udf/streams", [("sub", sub) for sub in subs], headers) as opened:
        yield opened


def stream_id(reader: Reader) -> str:
    return str(next(e.data["stream"] for e in reader.events if e.kind == "hello"))


def update(symbol: str, resolution: str, at: int, close: float, correction: bool = False) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "resolution": resolution,
        "time": at,
        "open": 100.0,
        "high": max(100.0, close),
        "low": min(100.0, close),
        "close": close,
        "volume": 1.5,
        "trades": 3,
        "correction": correction,
    }


async def produce(bootstrap: str, topic: str, records: list[dict[str, Any]]) -> None:
    """`records` on the updates topic `topic`, keyed by series, acknowledged."""
    producer = clients.producer(KafkaConfig(bootstrap), "test", linger_ms=5)
    await producer.start()
    try:
        for record in records:
            key = f"{record['symbol']}|{record['resolution']}".encode()
            await producer.send(topic, orjson.dumps(record), key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def two_series(stack: StackInfo, database_url: str, names: Names) -> None:
    """The test's topics, and two symbols with one stored 1-minute bar each (at `T`)."""
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2, names.updates_topic: 4, names.dead_topic: 1})
    ticks = [LogTick(SYMBOL, T * 1000 + 5, 100.0, 1.0, 0), LogTick(OTHER, T * 1000 + 5, 50.0, 2.0, 1)]
    await insert_symbols(database_url, ticks, {SYMBOL: 2, OTHER: 2})
    await insert_bars(database_url, reference_bars(ticks))


async def metric(url: str, name: str) -> float:
    """The value of the unlabelled metric `name` on the server at `url`."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        text = await response.text()
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0
