"""The live-bar hub of one web process: `bars.updates` fanned out to SSE subscribers.

Every web process follows the whole updates topic itself with one aiokafka consumer:
all partitions assigned by hand (no consumer group, so it never joins the Faust
group and never commits), positioned at the end when it starts. Each decoded update
goes to the subscribers of its `(symbol, resolution)`.

A subscriber holds at most `queue_limit` pending bars, keyed by bar time: updates to
a bar already pending replace it (latest wins), so a client that reads slowly costs
at most `queue_limit` bars, never a growing buffer. Past that the subscriber is
closed as too slow (`candleflow_sse_clients_dropped`) and its connection dropped.
An update that is a correction, or older than the newest bar the client has or will
get, becomes a pending `reset` instead of a bar (TradingView's onResetCacheNeeded).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from candleflow.metrics import SSE_CLIENTS, SSE_DROPPED

log = logging.getLogger(__name__)

#: Seconds between checks for new partitions of the updates topic.
PARTITION_REFRESH_S = 30.0
#: Seconds between sweeps for subscribers whose connection has gone.
SWEEP_S = 1.0
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class BarUpdate:
    """One record of `bars.updates` (see docs/architecture.md)."""

    symbol: str
    resolution: str
    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int
    correction: bool = False

    @property
    def key(self) -> Key:
        return (self.symbol, self.resolution)

    def event_data(self) -> bytes:
        """The SSE `bar` event's data: the bar without the `correction` flag."""
        return orjson.dumps(
            {
                "symbol": self.symbol,
                "resolution": self.resolution,
                "time": self.time,
                "open": self.open,
                "high": self.high,
                "low": self.low,
                "close": self.close,
                "volume": self.volume,
                "trades": self.trades,
            }
        )


def decode(value: bytes | None) -> BarUpdate | None:
    """Parse one updates record; None (and a log line) for anything malformed."""
    try:
        record: Any = orjson.loads(value or b"")
        update = BarUpdate(
            symbol=str(record["symbol"]),
            resolution=str(record["resolution"]),
            time=int(record["time"]),
            open=float(record["open"]),
            high=float(record["high"]),
            low=float(record["low"]),
            close=float(record["close"]),
            volume=float(record["volume"]),
            trades=int(record["trades"]),
            correction=bool(record.get("correction", False)),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError) as exc:
        log.warning("ignoring malformed bar update %r: %r", (value or b"")[:200], exc)
        return None
    if not all(math.isfinite(x) for x in (update.open, update.high, update.low, update.close)):
        log.warning("ignoring bar update with non-finite prices: %r", update)
        return None
    return update


class Subscriber:
    """One SSE client's bounded, coalescing queue of pending bars (and a reset flag)."""

    def __init__(
        self,
        key: Key,
        limit: int,
        alive: Callable[[], bool] = lambda: True,
        on_drop: Callable[[], None] = lambda: None,
    ) -> None:
        self.key = key
        self.limit = limit
        self.alive = alive
        self.on_drop = on_drop
        self.pending: dict[int, BarUpdate] = {}
        self.reset = False
        #: Newest bar time sent or pending: anything older is a reset.
        self.newest: int | None = None
        self.closed: str | None = None
        self.wakeup = asyncio.Event()

    def offer(self, update: BarUpdate) -> bool:
        """Queue `update`; False when that makes this subscriber too slow (it is closed)."""
        if self.closed is not None:
            return True
        if update.correction or (self.newest is not None and update.time < self.newest):
            self.reset = True
        else:
            self.pending[update.time] = update
            self.newest = update.time
            if len(self.pending) > self.limit:
                self.close("slow")
                self.on_drop()
                return False
        self.wakeup.set()
        return True

    def sent(self, time: int) -> None:
        """Record that the bar at `time` reached the client (the initial bar)."""
        if self.newest is None or time > self.newest:
            self.newest = time

    def take(self) -> tuple[bool, list[BarUpdate]]:
        """The pending reset flag and bars (ascending), emptying the queue."""
        reset, self.reset = self.reset, False
        bars = sorted(self.pending.values(), key=lambda u: u.time)
        self.pending.clear()
        self.wakeup.clear()
        return reset, bars

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
            self.pending.clear()
        self.wakeup.set()


class Hub:
    """Follows the updates topic and fans bars out to subscribers; started on demand."""

    def __init__(self, bootstrap: str, topic: str, queue_limit: int) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.queue_limit = queue_limit
        self._burst = max(1, queue_limit // 2)
        self._subscribers: dict[Key, set[Subscriber]] = {}
        self._count = 0
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._consumer: AIOKafkaConsumer | None = None
        self.updates_seen = 0

    @property
    def clients(self) -> int:
        return self._count

    async def ensure_started(self) -> None:
        """Start following the topic (once) and wait until positioned at its end.

        Callers bound the wait with `asyncio.timeout`.
        """
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._follow(), name="candleflow-sse-hub"),
                asyncio.create_task(self._sweep(), name="candleflow-sse-sweep"),
            ]
        await self._ready.wait()

    def subscribe(
        self,
        symbol: str,
        resolution: str,
        alive: Callable[[], bool] = lambda: True,
        on_drop: Callable[[], None] = lambda: None,
    ) -> Subscriber:
        subscriber = Subscriber((symbol, resolution), self.queue_limit, alive, on_drop)
        self._subscribers.setdefault(subscriber.key, set()).add(subscriber)
        self._count += 1
        SSE_CLIENTS.inc()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        group = self._subscribers.get(subscriber.key)
        if group is None or subscriber not in group:
            return
        group.discard(subscriber)
        if not group:
            del self._subscribers[subscriber.key]
        self._count -= 1
        SSE_CLIENTS.dec()
        subscriber.close(subscriber.closed or "unsubscribed")

    def dispatch(self, update: BarUpdate) -> None:
        self.updates_seen += 1
        for subscriber in tuple(self._subscribers.get(update.key, ())):
            if not subscriber.offer(update):
                SSE_DROPPED.inc()
                log.info("dropping SSE client of %s|%s: more than %d bars pending", *update.key, self.queue_limit)

    def close_all(self, reason: str = "shutdown") -> None:
        for group in self._subscribers.values():
            for subscriber in group:
                subscriber.close(reason)

    async def stop(self) -> None:
        self.close_all()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._ready.clear()

    async def _sweep(self) -> None:
        """Close subscribers whose connection went away, so their writers notice at once."""
        while True:
            await asyncio.sleep(SWEEP_S)
            for group in tuple(self._subscribers.values()):
                for subscriber in tuple(group):
                    if subscriber.closed is None and not subscriber.alive():
                        subscriber.close("gone")

    async def _follow(self) -> None:
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker gone, topic deleted, ...: start over
                log.warning("SSE hub lost %s (%r); reconnecting in 1 s", self.topic, exc)
                self._ready.clear()
                await asyncio.sleep(1.0)

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            client_id="candleflow-sse-hub",
        )
        await consumer.start()
        self._consumer = consumer
        try:
            assigned = await self._assign(consumer, set())
            self._ready.set()
            loop = asyncio.get_running_loop()
            refresh_at = loop.time() + PARTITION_REFRESH_S
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for records in batches.values():
                    for n, record in enumerate(records, 1):
                        update = decode(record.value)
                        if update is not None:
                            self.dispatch(update)
                        if n % self._burst == 0:
                            # let the writers drain: a burst of distinct bars (a catch-up)
                            # must not overflow the queue of a client that keeps up
                            await asyncio.sleep(0)
                if loop.time() >= refresh_at:
                    assigned = await self._assign(consumer, assigned)
                    refresh_at = loop.time() + PARTITION_REFRESH_S
        finally:
            self._consumer = None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 5)

    async def _assign(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> set[TopicPartition]:
        """Assign every partition of the topic (waiting for it to exist); new ones start at the end."""
        while True:
            partitions = await _partitions(consumer, self.topic)
            if partitions:
                break
            log.info("SSE hub waiting for topic %s to exist", self.topic)
            await asyncio.sleep(1.0)
        wanted = {TopicPartition(self.topic, p) for p in partitions}
        if wanted <= assigned:
            return assigned
        # a new assignment forgets positions: keep those of the partitions already followed
        kept = {tp: await consumer.position(tp) for tp in assigned}
        consumer.assign(sorted(wanted))
        for tp, offset in kept.items():
            consumer.seek(tp, offset)
        fresh = sorted(wanted - assigned)
        await consumer.seek_to_end(*fresh)
        for tp in fresh:  # resolve "end" now: nothing produced after this is missed
            await consumer.position(tp)
        return wanted


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    # aiokafka has no public "refresh and tell me the partitions of this topic"
    cluster = await consumer._client.fetch_all_metadata()
    return set(cluster.partitions_for_topic(topic) or ())
