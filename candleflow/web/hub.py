"""The live-bar hub of one web process: `bars.updates` fanned out to SSE connections.

Every web process follows the whole updates topic itself
(`candleflow.kafka.follow.TopicFollower`: all partitions assigned by hand, no consumer
group, nothing committed), positioned at the end when it starts. Updates of subscribed
series wait in `Pending` (the latest per bar) for the next fan-out round, which starts
at once when the hub is idle and is spaced by the cost of the previous one under load
(`candleflow.web.pacing`). A round serialises each update once (`Bodies`) and offers it
to every connection subscribed to its `(symbol, resolution)`
(`candleflow.web.connection`).

The worker's engine and this hub share one event loop, so they take turns: a round
that falls due during a commit waits for it (`committing`), and the engine's next
commit waits for a round owed (`settled`), both briefly bounded.

Stamps and resuming. Each update gets a stamp when its round fans it out: microseconds
of the hub's clock, strictly increasing. Connections send stamps as SSE event ids. For
every subscribed series the hub keeps a journal (`candleflow.web.journal`: bar time →
stamp of its last change, the newest bars), kept `JOURNAL_KEEP_S` after the last
subscriber left, so a client reconnecting with `Last-Event-ID` can be told exactly
which bars changed while it was away (`changed_after`), or that the hub cannot tell
(then: reset).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence

from candleflow.core.metrics import LIVE_STAGE_SECONDS, SSE_CLIENTS, SSE_DROPPED
from candleflow.domain.updates import ORIGIN_HEADER, BarUpdate, Key, decode
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.follow import TopicFollower
from candleflow.store import queries
from candleflow.store.connection import Statements
from candleflow.web.connection import Bodies, Connection
from candleflow.web.journal import Journal
from candleflow.web.pacing import Cadence, Pending

log = logging.getLogger(__name__)

#: Seconds between sweeps for connections that have gone.
SWEEP_S = 1.0
#: Seconds a series' journal outlives its last subscriber (a reconnect resumes in that time).
JOURNAL_KEEP_S = 300.0
#: Connections a fan-out round writes to before it lets the event loop run other work.
FAN_OUT_SLICE = 256
#: How long a fan-out round due during an engine commit waits for that commit at most.
COMMIT_WAIT_S = 0.05
#: How long the engine waits at most, before its next commit, for a round owed to run.
#: Measured: 0.25 s made it wait out whole 60-90 ms rounds at 5,000 clients (p99 194-260
#: ms there); 0.03 s keeps commits and rounds alternating where rounds are short (1,000
#: clients: p50 26-29 ms against 32-39 ms without the wait) and caps it where they are long.
ROUND_WAIT_S = 0.03

COMMIT_TO_HUB = LIVE_STAGE_SECONDS.labels("commit_to_hub")
#: Reads the current (latest) bars of series from the database.
Reread = Callable[[list[Key]], Awaitable[list[BarUpdate]]]


async def current_bars(db: Statements, keys: list[Key]) -> list[BarUpdate]:
    """The latest stored bar of each series (a hub's re-read after a gap)."""
    found = [await queries.latest_bar(db, symbol, resolution) for symbol, resolution in keys]
    return [bar for bar in found if bar is not None]


class Hub:
    """Follows the updates topic and fans bars out to connections; started on demand."""

    def __init__(
        self,
        kafka: KafkaConfig,
        topic: str,
        queue_limit: int,
        reread: Reread | None = None,
        origin: str | None = None,
    ) -> None:
        self.kafka = kafka
        #: Records published with this origin reached this hub in memory (`receive_all`).
        self._own = None if origin is None else (ORIGIN_HEADER, origin.encode())
        self.reread = reread
        self.topic = topic
        self.queue_limit = queue_limit
        self._burst = max(1, queue_limit // 2)
        self._by_key: dict[Key, set[Connection]] = {}
        self._journals: dict[Key, Journal] = {}
        self.connections: dict[str, Connection] = {}
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._pending = Pending()
        self._arrived = asyncio.Event()
        self._engine_idle = asyncio.Event()
        self._engine_idle.set()
        #: Set while no fan-out round is owed (nothing pending, no round running).
        self._settled = asyncio.Event()
        self._settled.set()
        self.cadence = Cadence()
        self.clock = time.time_ns() // 1000
        self.updates_seen = 0

    @property
    def clients(self) -> int:
        return len(self.connections)

    def stamp(self) -> int:
        """A new stamp: now in microseconds, strictly after every earlier stamp."""
        self.clock = max(time.time_ns() // 1000, self.clock + 1)
        return self.clock

    async def ensure_started(self) -> None:
        """Start following the topic (once) and wait until positioned at its end.

        Callers bound the wait with `asyncio.timeout`.
        """
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._follow(), name="candleflow-sse-hub"),
                asyncio.create_task(self._fan_out(), name="candleflow-sse-fan-out"),
                asyncio.create_task(self._sweep(), name="candleflow-sse-sweep"),
            ]
        await self._ready.wait()

    def attach(self, connection: Connection) -> Connection:
        """Register a new connection (under a fresh stream id)."""
        connection.stream_id = uuid.uuid4().hex
        self.connections[connection.stream_id] = connection
        SSE_CLIENTS.inc()
        return connection

    def detach(self, connection: Connection) -> None:
        if self.connections.pop(connection.stream_id, None) is None:
            return
        SSE_CLIENTS.dec()
        for key in list(connection.subscriptions):
            self.unsubscribe(connection, key)
        connection.close(connection.closed or "unsubscribed")

    def subscribe(self, connection: Connection, key: Key) -> Journal:
        """Add `key` to `connection`; the series' journal (created now if it had none)."""
        connection.add(key)
        self._by_key.setdefault(key, set()).add(connection)
        journal = self._journals.get(key)
        if journal is None:
            journal = self._journals[key] = Journal(self.clock)
        journal.idle_since = None
        return journal

    def unsubscribe(self, connection: Connection, key: Key) -> None:
        connection.remove(key)
        group = self._by_key.get(key)
        if group is None:
            return
        group.discard(connection)
        if not group:
            del self._by_key[key]
            journal = self._journals.get(key)
            if journal is not None:
                journal.idle_since = time.monotonic()

    def receive(self, update: BarUpdate, received: float) -> None:
        """An update from the topic: it waits for the next fan-out round (`_fan_out`).
        Updates of series nobody follows are dropped here (a stream that subscribes
        later reads the current bar from the database, which holds this one)."""
        self.updates_seen += 1
        if update.committed_at is not None:
            COMMIT_TO_HUB.observe(max(0.0, time.time() - update.committed_at))
        if update.key in self._journals:
            self._pending.add(update, received)
            self._settled.clear()
            self._arrived.set()

    @contextlib.contextmanager
    def committing(self) -> Iterator[None]:
        """Held by the worker around each engine commit. A round that falls due meanwhile
        waits for the commit to end (at most `COMMIT_WAIT_S`) and then carries its bars:
        the commit's few round trips to the database run without a round between them,
        and its updates go out in that round instead of the next one."""
        self._engine_idle.clear()
        try:
            yield
        finally:
            self._engine_idle.set()

    async def settled(self) -> None:
        """Returns once no fan-out round is owed (at once when none is; at most
        `ROUND_WAIT_S`). The worker's engine awaits it before each commit, so that rounds
        and commits alternate instead of slicing each other: a commit runs its round trips
        undisturbed, and the round that follows carries its bars."""
        if not self._settled.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ROUND_WAIT_S):
                    await self._settled.wait()

    def receive_all(self, updates: Sequence[BarUpdate]) -> None:
        """Updates this process's engine committed, handed over in memory."""
        received = time.monotonic()
        for update in updates:
            self.receive(update, received)

    def _stamped(self, updates: list[tuple[BarUpdate, float]]) -> dict[Key, list[tuple[Bodies, int, float]]]:
        """Each update of subscribed series stamped and journaled, grouped by series."""
        rounds: dict[Key, list[tuple[Bodies, int, float]]] = {}
        for update, received in updates:
            journal = self._journals.get(update.key)
            if journal is None:
                continue
            if update.republished and journal.seen(update):
                continue  # a starting worker's copy of a bar this hub has seen as new or newer
            stamp = self.stamp()
            journal.record(update.time, stamp, update.trades)
            rounds.setdefault(update.key, []).append((Bodies(update), stamp, received))
        return rounds

    def _deliver(self, key: Key, batch: list[tuple[Bodies, int, float]], connections: tuple[Connection, ...]) -> None:
        """A series' updates of one round offered to connections together (one write each)."""
        for connection in connections:
            if not connection.offer_all(batch):
                SSE_DROPPED.inc()
                log.info("dropping SSE client of %s|%s: too many bars pending", *key)

    async def _round(self, pending: list[tuple[BarUpdate, float]]) -> None:
        """One fan-out round (`_stamped`, then `_deliver` per series), yielding to the event
        loop every `FAN_OUT_SLICE` connections: the engine's commits share this loop, and
        each of their round trips would otherwise wait for a whole round (~15 ms at 1,000
        clients here)."""
        for at in range(0, len(pending), self._burst):
            if at:
                # let the writers drain: a burst of distinct bars (a catch-up)
                # must not overflow the queue of a client that keeps up
                await asyncio.sleep(0)
            for key, batch in self._stamped(pending[at : at + self._burst]).items():
                group = tuple(self._by_key.get(key, ()))
                for start in range(0, len(group), FAN_OUT_SLICE):
                    if start:
                        await asyncio.sleep(0)
                    self._deliver(key, batch, group[start : start + FAN_OUT_SLICE])

    def close_all(self, reason: str = "shutdown") -> None:
        for connection in self.connections.values():
            connection.close(reason)

    async def stop(self) -> None:
        self.close_all()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._ready.clear()

    async def _fan_out(self) -> None:
        """Fan-out rounds: every pending update, when the cadence allows (see `pacing`)."""
        while True:
            await self._arrived.wait()
            wait = self.cadence.wait()
            if wait > 0:
                await asyncio.sleep(wait)
            if not self._engine_idle.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(COMMIT_WAIT_S):
                        await self._engine_idle.wait()
            self._arrived.clear()
            started = self.cadence.clock()
            pending = self._pending.take()
            await self._round(pending)
            self.cadence.ran(started)
            if not len(self._pending):
                self._settled.set()

    async def _sweep(self) -> None:
        """Close connections that went away (so their writers notice at once); forget idle journals."""
        while True:
            await asyncio.sleep(SWEEP_S)
            for connection in tuple(self.connections.values()):
                if connection.closed is None and not connection.alive():
                    connection.close("gone")
            expired = time.monotonic() - JOURNAL_KEEP_S
            for key, journal in tuple(self._journals.items()):
                if journal.idle_since is not None and journal.idle_since < expired:
                    del self._journals[key]

    async def _follow(self) -> None:
        first = True
        while True:
            try:
                await self._consume(resync=not first)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker gone, topic deleted, ...: start over
                log.warning("SSE hub lost %s (%r); reconnecting in 1 s", self.topic, exc)
                self._ready.clear()
                first = False
                await asyncio.sleep(1.0)

    async def _resync(self) -> None:
        """After a gap in following the topic: nothing before now is known, re-read current
        bars. They wait for the next round like any update: a re-read of many series must
        not become one unsliced round that holds the event loop."""
        for journal in self._journals.values():
            journal.since = self.clock
        keys = list(self._by_key)
        if self.reread is None or not keys:
            return
        try:
            current = await self.reread(keys)
        except Exception as exc:  # the database may be down too; the next update fixes it
            log.warning("SSE hub could not re-read the current bars after a gap: %r", exc)
            return
        self.receive_all(current)

    async def _consume(self, resync: bool) -> None:
        async with TopicFollower(self.kafka, self.topic, "sse-hub") as follower:
            await follower.assign_all()
            if resync:
                await self._resync()
            self._ready.set()
            own = self._own
            async for records in follower.batches():
                received = time.monotonic()
                for record in records:
                    if own is not None and own in record.headers:
                        continue  # received in memory already (`receive_all`)
                    update = decode(record.value)
                    if update is not None:
                        self.receive(update, received)
