"""The live-bar hub of one web process: the registry of SSE connections, their
subscriptions and the series' journals, and the fan-out of bar updates to them.

Updates come from the process's own engine (`receive_all`, in memory) and from
`bars.updates`, which the hub's `UpdatesFeed` follows (`candleflow.web.updates_feed`:
the Kafka half, started with the hub). Updates of subscribed
series wait in `Pending` (the latest per bar) for the next fan-out round, which starts
at once when the hub is idle and is spaced by the cost of the previous one under load
(`candleflow.web.pacing`). A round serialises each update once (`Bodies`) and offers it
to every connection subscribed to its `(symbol, resolution)`
(`candleflow.web.connection`).

A round to thousands of clients takes tens of milliseconds or more. When a newer update
of the series being delivered arrives meanwhile, the round takes it along for the
connections it has not reached yet, and offers it again to all in the next round, where
those that have it skip it (`_again`): an update then waits for at most one pass over
the clients instead of the rest of the round in progress plus a whole next one. Only
connections that carry this one series take it along mid-round: on one carrying
several, the newer id would get ahead of another series' update still to come in this
round, and a client resuming from that id would miss it. And only in the last burst of
the round that holds updates of the series: a catch-up's older bars of it, still to
come in later bursts, must not be overtaken by their newer state.

The worker's engine and this hub share one event loop, so they take turns: a round
that falls due during a commit waits for it (`committing`), and the engine's next
commit waits for a round owed (`settled`), both briefly bounded.

Stamps and resuming. Each update gets a stamp when its round fans it out: microseconds
of the hub's clock (wall time, `HubClock`: a test hands in its own), strictly
increasing. Connections send stamps as SSE event ids. For
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
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from candleflow.core.memory import Departures
from candleflow.core.metrics import LIVE_STAGE_SECONDS, SSE_CLIENTS
from candleflow.domain.updates import BarUpdate, Key
from candleflow.web.connection import Bodies, Connection
from candleflow.web.journal import Journal
from candleflow.web.pacing import Cadence, Pending
from candleflow.web.rounds import ROUND_STEP, Batch, Turn, carries_one_series, superseded
from candleflow.web.updates_feed import Reread, UpdatesFeed

log = logging.getLogger(__name__)

#: Seconds between sweeps for connections that have gone.
SWEEP_S = 1.0
#: Seconds a series' journal outlives its last subscriber (a reconnect resumes in that time).
JOURNAL_KEEP_S = 300.0
#: Connections that leave (since the most there were) before the freed memory is returned
#: to the system (`candleflow.core.memory`).
GIVE_BACK_AFTER = 256
#: How long a fan-out round due during an engine commit waits for that commit at most.
COMMIT_WAIT_S = 0.05
#: How long the engine waits at most, before its next commit, for a round owed to run:
#: long enough for commits and rounds to alternate where rounds are short, short enough
#: not to wait out whole rounds where they are long (chosen with `bench/bench_sse.py`).
ROUND_WAIT_S = 0.03

COMMIT_TO_HUB = LIVE_STAGE_SECONDS.labels("commit_to_hub")


class HubClock(Protocol):
    """The hub's two clocks."""

    def wall_us(self) -> int:
        """Microseconds since the epoch (stamps survive a restart of the process)."""
        ...

    def monotonic(self) -> float:
        """Seconds of a clock that never goes back (ages and receipt times)."""
        ...


class SystemClock:
    def wall_us(self) -> int:
        return time.time_ns() // 1000

    def monotonic(self) -> float:
        return time.monotonic()


class Hub:
    """Fans bars out to connections; started on demand (see the module docstring).

    `commit_wait_s` and `round_wait_s` bound the turns the hub and the engine take
    (`committing`, `settled`); `clock` is the hub's time."""

    def __init__(
        self,
        feed: UpdatesFeed | None,
        queue_limit: int,
        *,
        clock: HubClock | None = None,
        commit_wait_s: float = COMMIT_WAIT_S,
        round_wait_s: float = ROUND_WAIT_S,
    ) -> None:
        self.feed = feed
        self.clock: HubClock = clock or SystemClock()
        self.commit_wait_s = commit_wait_s
        self.round_wait_s = round_wait_s
        self.queue_limit = queue_limit
        self._burst = max(1, queue_limit // 2)
        self._by_key: dict[Key, set[Connection]] = {}
        self._journals: dict[Key, Journal] = {}
        self.connections: dict[str, Connection] = {}
        #: Set while the feed follows the topic from where this hub's updates stand.
        self.following = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._pending = Pending()
        #: Updates a round took along mid-way, per series: offered to all next round.
        self._again: dict[Key, Batch] = {}
        self._arrived = asyncio.Event()
        self._engine_idle = asyncio.Event()
        self._engine_idle.set()
        #: Set while no fan-out round is owed (nothing pending, no round running).
        self._settled = asyncio.Event()
        self._settled.set()
        self.cadence = Cadence(clock=self.clock.monotonic)
        #: The newest stamp given (the hub's time, in stamp units).
        self.now = self.clock.wall_us()
        self.updates_seen = 0
        self._departures = Departures(GIVE_BACK_AFTER)
        #: Told of every update received, subscribed or not (the streamed quotes'
        #: `candleflow.web.quote_board`).
        self.on_update: Callable[[BarUpdate], None] | None = None

    @property
    def clients(self) -> int:
        return len(self.connections)

    def monotonic(self) -> float:
        """The hub's monotonic time (receipt times of updates)."""
        return self.clock.monotonic()

    def stamp(self) -> int:
        """A new stamp: now in microseconds, strictly after every earlier stamp."""
        self.now = max(self.clock.wall_us(), self.now + 1)
        return self.now

    async def ensure_started(self) -> None:
        """Start the fan-out and the feed (once) and wait until the feed follows the topic
        from its end (at once without a feed). Callers bound the wait with `asyncio.timeout`."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._fan_out(), name="candleflow-sse-fan-out"),
                asyncio.create_task(self._sweep(), name="candleflow-sse-sweep"),
            ]
            if self.feed is not None:
                self._tasks.append(asyncio.create_task(self.feed.run(self), name="candleflow-sse-hub"))
            else:
                self.following.set()
        await self.following.wait()

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
            journal = self._journals[key] = Journal(self.now)
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
                journal.idle_since = self.clock.monotonic()

    def receive(self, update: BarUpdate, received: float) -> None:
        """An update from the topic: it waits for the next fan-out round (`_fan_out`).
        Updates of series nobody follows are dropped here (a stream that subscribes
        later reads the current bar from the database, which holds this one)."""
        self.updates_seen += 1
        if update.committed_at is not None:
            COMMIT_TO_HUB.observe(max(0.0, self.clock.wall_us() / 1e6 - update.committed_at))
        if self.on_update is not None:
            self.on_update(update)
        if update.key in self._journals:
            self._pending.add(update, received)
            self._settled.clear()
            self._arrived.set()

    @contextlib.contextmanager
    def committing(self) -> Iterator[None]:
        """Held by the worker around each engine commit. A round that falls due meanwhile
        waits for the commit to end (at most `commit_wait_s`) and then carries its bars:
        the commit's few round trips to the database run without a round between them,
        and its updates go out in that round instead of the next one."""
        self._engine_idle.clear()
        try:
            yield
        finally:
            self._engine_idle.set()

    async def settled(self) -> None:
        """Returns once no fan-out round is owed (at once when none is; at most
        `round_wait_s`). The worker's engine awaits it before each commit, so that rounds
        and commits alternate instead of slicing each other: a commit runs its round trips
        undisturbed, and the round that follows carries its bars."""
        if not self._settled.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.round_wait_s):
                    await self._settled.wait()

    def receive_all(self, updates: Sequence[BarUpdate]) -> None:
        """Updates this process's engine committed, handed over in memory."""
        received = self.clock.monotonic()
        for update in updates:
            self.receive(update, received)

    def _stamped(self, updates: list[tuple[BarUpdate, float]]) -> dict[Key, Batch]:
        """Each update of subscribed series stamped and journaled, grouped by series."""
        rounds: dict[Key, Batch] = {}
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

    def _deliver(self, key: Key, batch: Batch, connections: Sequence[Connection], again: bool = False) -> None:
        """A series' updates of one round offered to connections together (one write each).
        `again`: `batch` starts with updates offered again (see the module docstring),
        which a connection of this series alone has had if its last id reaches them.
        Three loops, not one with the cases inside: this runs once per connection and
        round, and the branches per connection made a round to 5,000 clients about a
        quarter slower (3.4 ms against 2.7 ms without the sockets' cost)."""
        if again:
            for connection in connections:
                if carries_one_series(connection) and connection.last_id >= batch[0][1]:
                    rest = [item for item in batch if item[1] > connection.last_id]
                    if rest and not connection.offer_all(rest):
                        log.debug("dropping SSE client of %s|%s: too many bars pending", *key)
                elif not connection.offer_all(batch):
                    log.debug("dropping SSE client of %s|%s: too many bars pending", *key)
            return
        if len(batch) == 1:
            bodies, stamp, received = batch[0]
            for connection in connections:
                if not connection.offer(bodies, stamp, received):
                    log.debug("dropping SSE client of %s|%s: too many bars pending", *key)
            return
        for connection in connections:
            if not connection.offer_all(batch):
                log.debug("dropping SSE client of %s|%s: too many bars pending", *key)

    async def _round(self, pending: list[tuple[BarUpdate, float]]) -> None:
        """One fan-out round: `pending` stamped (`_stamped`), each series after what the
        last round took along of it (`_again`) and delivered (`_series`), yielding to the
        event loop every `candleflow.web.rounds.FAN_OUT_SLICE_S`: the engine's commits and the Kafka fetches
        share this loop, and each of their steps would otherwise wait for a whole round
        (`bench/bench_sse.py` measures a round's cost)."""
        again, self._again = self._again, {}
        turn = Turn()
        # a series' later bursts in this round (a catch-up) must not be overtaken
        last_burst = {update.key: n - n % self._burst for n, (update, _) in enumerate(pending)}
        for at in range(0, max(1, len(pending)), self._burst):
            if at:
                # let the writers drain: a burst of distinct bars (a catch-up)
                # must not overflow the queue of a client that keeps up
                await asyncio.sleep(0)
            series = self._stamped(pending[at : at + self._burst])
            for key, batch in again.items():
                series[key] = batch + series.pop(key, [])
            for key, batch in series.items():
                along = last_burst.get(key, at) == at
                await self._series(key, batch, turn, again=key in again, along=along)
            again = {}

    async def _series(self, key: Key, batch: Batch, turn: Turn, again: bool, along: bool) -> None:
        """`batch` to every connection of `key`, taking newer updates of `key` along from
        where the round stands when they arrive (if `along`; see the module docstring), as
        many as keep one write within a burst (`queue_limit` / 2 updates)."""
        group = tuple(self._by_key.get(key, ()))
        whole = batch
        for start in range(0, len(group), ROUND_STEP):
            if (
                await turn.take()
                and along
                and len(whole) < self._burst
                and (newer := self._stamped(self._pending.take_series(key, self._burst - len(whole))).get(key))
            ):
                self._again[key] = superseded(self._again.get(key, []), newer)
                whole = superseded(whole, newer)
                self._arrived.set()
            chunk = group[start : start + ROUND_STEP]
            if whole is batch:
                self._deliver(key, batch, chunk, again)
            else:
                self._deliver(key, whole, [c for c in chunk if carries_one_series(c)], again)
                self._deliver(key, batch, [c for c in chunk if not carries_one_series(c)], again)

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
        self.following.clear()

    async def _fan_out(self) -> None:
        """Fan-out rounds: every pending update, when the cadence allows (see `pacing`)."""
        while True:
            await self._arrived.wait()
            wait = self.cadence.wait()
            if wait > 0:
                await asyncio.sleep(wait)
            if not self._engine_idle.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.commit_wait_s):
                        await self._engine_idle.wait()
            self._arrived.clear()
            started = self.cadence.clock()
            await self._round(self._pending.take())  # not kept once the round is done
            self.cadence.ran(started)
            if not len(self._pending) and not self._again:
                self._settled.set()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            self.sweep()

    def sweep(self) -> None:
        """Close connections that went away (so their writers notice at once); give the
        memory back once many have left; forget the journals idle for `JOURNAL_KEEP_S`
        (run every `SWEEP_S` while the hub runs)."""
        for connection in tuple(self.connections.values()):
            if connection.closed is None and not connection.alive():
                connection.close("gone")
        self._departures.count(len(self.connections))
        expired = self.clock.monotonic() - JOURNAL_KEEP_S
        for key, journal in tuple(self._journals.items()):
            if journal.idle_since is not None and journal.idle_since < expired:
                del self._journals[key]

    async def resync(self, reread: Reread | None) -> None:
        """After a gap in following the topic: nothing before now is known, re-read current
        bars. They wait for the next round like any update: a re-read of many series must
        not become one unsliced round that holds the event loop."""
        for journal in self._journals.values():
            journal.since = self.now
        keys = list(self._by_key)
        if reread is None or not keys:
            return
        try:
            current = await reread(keys)
        except Exception as exc:  # the database may be down too; the next update fixes it
            log.warning("SSE hub could not re-read the current bars after a gap: %r", exc)
            return
        self.receive_all(current)
