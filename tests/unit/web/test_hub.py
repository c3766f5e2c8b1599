"""The SSE hub and its connections: classifying, coalescing, the bound, direct writes,
event ids and the journal that lets a reconnecting client resume."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from candleflow.domain.updates import BarUpdate
from candleflow.web import rounds
from candleflow.web.connection import HIGH_WATER, MULTIPLEXED, SINGLE_SERIES, Bodies, Connection, Wire
from candleflow.web.hub import JOURNAL_KEEP_S, Hub
from candleflow.web.journal import JOURNAL_BARS, Journal
from candleflow.web.pacing import Cadence, Pending
from tests.harness.waiting import eventually

KEY = ("Coinbase:BTC/USD", "1")


def bar(at: int, close: float = 1.0, correction: bool = False, resolution: str = "1") -> BarUpdate:
    return BarUpdate("Coinbase:BTC/USD", resolution, at, 1.0, 2.0, 0.5, close, 3.0, 4, correction)


async def dispatch(hub: Hub, update: BarUpdate) -> None:
    """One update fanned out now (a round of one)."""
    await hub._round([(update, 0.0)])


def events(chunk: bytes) -> list[tuple[int, str, Any]]:
    """(id, event, data) of every event in a chunk of SSE text."""
    found = []
    for block in chunk.decode().split("\n\n"):
        if not block:
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        found.append((int(fields["id"]), fields["event"], orjson.loads(fields["data"])))
    return found


class BufferTransport(asyncio.Transport):
    """A socket stand-in that keeps what is written (and can pretend to be full)."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.backlog = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def get_write_buffer_size(self) -> int:
        return self.backlog

    def is_closing(self) -> bool:
        return False

    def body(self) -> bytes:
        """The written chunks without their HTTP/1.1 framing."""
        raw, out = bytes(self.written), bytearray()
        while raw:
            size, _, rest = raw.partition(b"\r\n")
            n = int(size, 16)
            out += rest[:n]
            raw = rest[n + 2 :]
        return bytes(out)


def connection(limit: int = 4, wire: Wire = MULTIPLEXED, **kwargs: Any) -> Connection:
    c = Connection(limit, wire, **kwargs)
    c.add(KEY)
    return c


def test_updates_to_the_same_bar_coalesce_in_stamp_order() -> None:
    c = connection()
    c.offer(Bodies(bar(60, 1.0)), 1, 0.0)
    c.offer(Bodies(bar(120, 9.0)), 2, 0.0)
    c.offer(Bodies(bar(60, 3.0)), 3, 0.0)  # corrects the older bar: moves to the end
    data, oldest = c.take()
    assert [(i, kind, d["time"], d["close"]) for i, kind, d in events(data)] == [
        (2, "bar", 120, 9.0),
        (3, "correction", 60, 3.0),
    ]
    assert oldest == 0.0
    assert not c.wakeup.is_set()


def test_older_bars_and_flagged_corrections_carry_the_bar_or_reset_a_single_series() -> None:
    multi, single = connection(), connection(wire=SINGLE_SERIES)
    for c in (multi, single):
        c.offer(Bodies(bar(120)), 1, 0.0)
        c.offer(Bodies(bar(60)), 2, 0.0)
        c.offer(Bodies(bar(120, 5.0, correction=True)), 3, 0.0)
    # the flagged correction of 120 replaces its queued bar and moves behind the older one
    assert [(kind, d.get("time")) for _, kind, d in events(multi.take()[0])] == [
        ("correction", 60),
        ("correction", 120),
    ]
    assert [(kind, d) for _, kind, d in events(single.take()[0])] == [
        ("bar", {**orjson.loads(bar(120).bar_json())}),
        ("reset", {}),
    ]


def test_too_many_queued_bars_drop_the_client() -> None:
    dropped: list[bool] = []
    c = connection(limit=3, on_drop=lambda: dropped.append(True))
    assert all(c.offer(Bodies(bar(60 * i)), i, 0.0) for i in range(3))
    assert not c.offer(Bodies(bar(600)), 9, 0.0)
    assert c.closed == "slow"
    assert dropped == [True]
    assert c.pending == {}


def test_a_client_that_keeps_up_is_written_directly_and_ids_never_decrease() -> None:
    transport = BufferTransport()
    c = connection()
    c.offer(Bodies(bar(60)), 5, 0.0)  # before the stream is set up: queued
    c.go_direct(transport)
    assert transport.written == b""
    data, _ = c.take()
    c.offer(Bodies(bar(60, 2.0)), 7, 0.0)
    c.control(b"event: hello\ndata: {}\n\n", 6)  # an older stamp still gets id 7
    got = events(data) + events(transport.body())
    assert [(i, kind) for i, kind, _ in got] == [(5, "bar"), (7, "bar"), (7, "hello")]
    transport.backlog = HIGH_WATER  # the client stopped reading: queue instead
    c.offer(Bodies(bar(120)), 8, 0.0)
    assert c.wakeup.is_set() and len(c.pending) == 1


async def test_hub_routes_by_series_and_serialises_each_update_once() -> None:
    hub = Hub(None, queue_limit=8)
    one, five = hub.attach(Connection(8)), hub.attach(Connection(8))
    other = hub.attach(Connection(8))
    hub.subscribe(one, KEY)
    hub.subscribe(five, ("Coinbase:BTC/USD", "5"))
    hub.subscribe(other, KEY)
    await dispatch(hub, bar(60))
    first, second = one.take()[0], other.take()[0]
    assert first == second and [d["time"] for _, _, d in events(first)] == [60]
    assert five.take()[0] == b""
    assert hub.clients == 3
    hub.detach(one)
    hub.detach(one)  # twice is harmless
    assert hub.clients == 2
    await dispatch(hub, bar(120))
    assert one.pending == {}


class FakeClock:
    """A hub clock the test moves: wall time in µs, monotonic seconds."""

    def __init__(self, wall_us: int = 1_700_000_000_000_000, monotonic: float = 100.0) -> None:
        self.wall = wall_us
        self.mono = monotonic

    def wall_us(self) -> int:
        return self.wall

    def monotonic(self) -> float:
        return self.mono


def test_stamps_increase_strictly_even_when_the_wall_clock_stands_or_goes_back() -> None:
    clock = FakeClock()
    hub = Hub(None, queue_limit=8, clock=clock)
    stamps = [hub.stamp() for _ in range(1000)]
    clock.wall -= 5_000_000  # NTP steps the clock back five seconds
    stamps += [hub.stamp() for _ in range(10)]
    clock.wall += 60_000_000
    stamps.append(hub.stamp())
    assert stamps == sorted(set(stamps))
    assert stamps[0] == 1_700_000_000_000_001 and stamps[-1] == clock.wall  # wall time again once it passes


def test_a_journal_outlives_its_last_subscriber_by_the_keep_time_only() -> None:
    clock = FakeClock()
    hub = Hub(None, queue_limit=8, clock=clock)
    c = hub.attach(Connection(8))
    journal = hub.subscribe(c, KEY)
    hub.unsubscribe(c, KEY)
    clock.mono += JOURNAL_KEEP_S - 1
    hub.sweep()
    assert hub.subscribe(c, KEY) is journal, "a client back within the keep time resumes from the journal"
    hub.unsubscribe(c, KEY)
    clock.mono += JOURNAL_KEEP_S + 1
    hub.sweep()
    assert hub.subscribe(c, KEY) is not journal, "an idle journal is forgotten"


async def test_journal_tells_which_bars_changed_after_an_id() -> None:
    hub = Hub(None, queue_limit=8)
    c = hub.attach(Connection(8))
    journal = hub.subscribe(c, KEY)
    assert journal.changed_after(journal.since - 1) is None  # before the journal began
    await dispatch(hub, bar(60))
    seen = hub.now
    await dispatch(hub, bar(120))
    await dispatch(hub, bar(60, 2.0, correction=True))
    assert journal.changed_after(seen) == {60, 120}
    assert journal.changed_after(hub.now) == set()


def test_journal_forgets_old_bars_and_then_cannot_tell() -> None:
    journal = Journal(since=0)
    for n in range(JOURNAL_BARS + 1):
        journal.record(n, 10 + n, 1)
    assert journal.changed_after(5) is None
    assert journal.changed_after(10 + JOURNAL_BARS - 1) == {JOURNAL_BARS}


async def test_direct_writes_share_one_framed_chunk_per_update() -> None:
    hub = Hub(None, queue_limit=8)
    transports = [BufferTransport(), BufferTransport()]
    for transport in transports:
        c = hub.attach(Connection(8))
        hub.subscribe(c, KEY)
        c.go_direct(transport)
    await dispatch(hub, bar(60))
    await dispatch(hub, bar(60, 2.0))
    first, second = (t.body() for t in transports)
    assert first == second
    assert [(kind, d["close"]) for _, kind, d in events(first)] == [("bar", 1.0), ("bar", 2.0)]


async def test_a_republished_bar_never_replaces_a_newer_state_of_it() -> None:
    hub = Hub(None, queue_limit=8)
    c = hub.attach(Connection(8))
    hub.subscribe(c, KEY)
    await dispatch(hub, bar(60, 5.0))  # 4 trades
    c.take()
    stale = BarUpdate("Coinbase:BTC/USD", "1", 60, 1.0, 2.0, 0.5, 1.0, 3.0, 4, republished=True)
    await dispatch(hub, stale)
    assert c.take()[0] == b""
    lost = BarUpdate("Coinbase:BTC/USD", "1", 60, 1.0, 2.0, 0.5, 7.0, 3.0, 6, republished=True)
    await dispatch(hub, lost)  # more trades: the update a crash lost
    assert [d["close"] for _, _, d in events(c.take()[0])] == [7.0]


async def test_a_round_writes_each_connection_once_whatever_the_number_of_its_updates() -> None:
    hub = Hub(None, queue_limit=8)
    writes: list[bytes] = []

    class Counting(BufferTransport):
        def write(self, data: bytes | bytearray | memoryview) -> None:
            writes.append(bytes(data))
            super().write(data)

    transport = Counting()
    c = hub.attach(Connection(8))
    hub.subscribe(c, KEY)
    c.go_direct(transport)
    await hub._round([(bar(60, 1.0), 0.0), (bar(120, 2.0), 0.0), (bar(60, 3.0, correction=True), 0.0)])
    assert len(writes) == 1
    assert [(kind, d["time"], d["close"]) for _, kind, d in events(transport.body())] == [
        ("bar", 60, 1.0),
        ("bar", 120, 2.0),
        ("correction", 60, 3.0),
    ]


class ArrivalOnWrite(BufferTransport):
    """A socket on whose first write a newer update of the bar reaches the hub."""

    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self.hub = hub

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self.written:
            self.hub.receive(bar(60, 2.0), 0.0)
        super().write(data)


async def test_a_newer_update_arriving_mid_round_is_taken_along_and_reaches_everyone_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rest of the round gets it at once; connections already passed, and one that
    carries two series, get it next round; nobody gets it twice, ids only grow."""
    monkeypatch.setattr(rounds, "FAN_OUT_SLICE_S", 0.0)  # yield at every step
    hub = Hub(None, queue_limit=8)
    other = ("Coinbase:BTC/USD", "5")
    for _ in range(rounds.ROUND_STEP * 6):
        hub.subscribe(hub.attach(Connection(8)), KEY)
    group = list(hub._by_key[KEY])  # the order a round takes
    hub.subscribe(group[rounds.ROUND_STEP * 5], other)  # a multiplexed stream carrying two series
    transports = [ArrivalOnWrite(hub) if n == rounds.ROUND_STEP else BufferTransport() for n in range(len(group))]
    for c, transport in zip(group, transports, strict=True):
        c.go_direct(transport)

    await hub._round([(bar(60, 1.0), 0.0)])
    after_first = [[d["close"] for _, _, d in events(t.body())] for t in transports]
    assert after_first[0] == [1.0]  # passed before the newer update came
    assert after_first[-1] == [2.0]  # reached after it: only the newest state of the bar
    assert after_first[rounds.ROUND_STEP * 5] == [1.0]  # two series: not taken along mid-round
    await hub._round(hub._pending.take())
    for n, t in enumerate(transports):
        got = events(t.body())
        assert [d["close"] for _, _, d in got].count(2.0) == 1, n
        assert [d["close"] for _, _, d in got][-1] == 2.0, n
        ids = [i for i, _, _ in got]
        assert ids == sorted(set(ids)), n
    assert not hub._again
    written = [len(t.written) for t in transports]
    await hub._round(hub._pending.take())
    assert [len(t.written) for t in transports] == written  # nothing owed any more


class Arrival(BufferTransport):
    """A socket on whose first write `update` reaches the hub."""

    def __init__(self, hub: Hub, update: BarUpdate) -> None:
        super().__init__()
        self.hub, self.update = hub, update

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self.written:
            self.hub.receive(self.update, 0.0)
        super().write(data)


def symbol_bar(symbol: str, at: int, close: float = 1.0) -> BarUpdate:
    return BarUpdate(symbol, "1", at, 1.0, 2.0, 0.5, close, 3.0, 4)


async def test_a_round_of_many_series_takes_a_newer_update_along_for_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """A production round carries one update each of many series, more than one burst:
    each series' newer update is still taken along for the clients not reached yet."""
    monkeypatch.setattr(rounds, "FAN_OUT_SLICE_S", 0.0)
    hub = Hub(None, queue_limit=8)  # bursts of 4 updates
    symbols = [f"Coinbase:C{n}/USD" for n in range(6)]
    transports: dict[str, list[BufferTransport]] = {}
    for symbol in symbols:
        for _ in range(rounds.ROUND_STEP * 2):
            hub.subscribe(hub.attach(Connection(8)), (symbol, "1"))
        group = list(hub._by_key[(symbol, "1")])  # the order a round takes
        transports[symbol] = [Arrival(hub, symbol_bar(symbol, 60, 2.0))] + [BufferTransport() for _ in group[1:]]
        for c, transport in zip(group, transports[symbol], strict=True):
            c.go_direct(transport)

    await hub._round([(symbol_bar(symbol, 60, 1.0), 0.0) for symbol in symbols])
    for symbol in symbols:
        closes = [[d["close"] for _, _, d in events(t.body())] for t in transports[symbol]]
        assert closes[0] == [1.0], symbol
        assert closes[-1] == [2.0], f"{symbol}: the newer state not taken along"
    await hub._round(hub._pending.take())
    for symbol in symbols:
        for t in transports[symbol]:
            assert [d["close"] for _, _, d in events(t.body())].count(2.0) == 1, symbol


async def test_a_catch_up_spanning_bursts_is_not_overtaken_by_a_newer_state_of_its_bars(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Four bars of one series over two bursts (of 4, shared with another series): a newer
    state of the last bar arriving while the first burst is written waits for that bar's
    own burst, then goes along: every client sees the bars in time order, the newest
    state last and once."""
    monkeypatch.setattr(rounds, "FAN_OUT_SLICE_S", 0.0)
    hub = Hub(None, queue_limit=8)
    other = symbol_bar("Coinbase:ETH/USD", 60)
    hub.subscribe(hub.attach(Connection(8)), other.key)
    for _ in range(rounds.ROUND_STEP * 3):
        hub.subscribe(hub.attach(Connection(8, SINGLE_SERIES)), KEY)
    group = list(hub._by_key[KEY])
    transports = [Arrival(hub, bar(240, 9.0))] + [BufferTransport() for _ in group[1:]]
    for c, transport in zip(group, transports, strict=True):
        c.go_direct(transport)

    burst, rest = [bar(60), other, bar(120), symbol_bar(other.symbol, 120)], [bar(180), bar(240)]
    await hub._round([(update, 0.0) for update in burst + rest])
    for n, t in enumerate(transports):
        got = [(d["time"], d["close"]) for _, _, d in events(t.body())]
        assert [at for at, _ in got] == [60, 120, 180, 240], (n, got)
        assert got[-1] == (240, 9.0), (n, got)  # taken along once its own burst came
    await hub._round(hub._pending.take())
    for n, t in enumerate(transports):
        closes = [d["close"] for _, _, d in events(t.body()) if d["time"] == 240]
        assert closes.count(9.0) == 1 and closes[-1] == 9.0, (n, closes)


async def test_a_paced_round_reaches_every_connection_in_slices_with_the_same_body() -> None:
    hub = Hub(None, queue_limit=8)
    transports: list[BufferTransport] = []
    for _ in range(rounds.ROUND_STEP * 8 + 3):
        c = hub.attach(Connection(8))
        hub.subscribe(c, KEY)
        transports.append(BufferTransport())
        c.go_direct(transports[-1])
    await hub._round([(bar(60, 1.0), 0.0), (bar(60, 2.0), 0.0)])
    bodies = {t.body() for t in transports}
    assert len(bodies) == 1
    assert [(kind, d["close"]) for _, kind, d in events(bodies.pop())] == [("bar", 1.0), ("bar", 2.0)]


def test_pending_keeps_the_latest_per_bar_and_a_correction_stays_one() -> None:
    pending = Pending()
    pending.add(bar(60, 1.0, correction=True), 1.0)
    pending.add(bar(120, 2.0), 2.0)
    pending.add(bar(60, 3.0), 3.0)
    assert [(u.time, u.close, u.correction, at) for u, at in pending.take()] == [
        (120, 2.0, False, 2.0),
        (60, 3.0, True, 3.0),
    ]
    assert len(pending) == 0
    five = bar(60, 6.0, resolution="5")
    pending.add(bar(60), 4.0)
    pending.add(five, 5.0)
    assert pending.take() == [(bar(60), 4.0), (five, 5.0)]  # the same time at another resolution is another bar


def test_the_cadence_rests_in_proportion_to_what_the_last_round_took_beyond_the_free_part() -> None:
    now = [10.0]
    cadence = Cadence(rest=0.5, free=0.02, clock=lambda: now[0])
    assert cadence.wait() == 0.0  # idle: the first round starts at once
    started = now[0]
    now[0] += 0.08  # a round of 80 ms: 60 ms of it earn a rest
    cadence.ran(started)
    assert cadence.wait() == pytest.approx(0.03)
    now[0] += 0.05
    assert cadence.wait() == 0.0
    started = now[0]
    now[0] += 0.015  # a round within the free part leaves no gap
    cadence.ran(started)
    assert cadence.wait() == 0.0


def test_updates_handed_over_in_memory_wait_for_the_next_round_only_when_subscribed() -> None:
    hub = Hub(None, queue_limit=8)
    c = hub.attach(Connection(8))
    hub.subscribe(c, KEY)
    hub.receive_all([bar(60, 1.0), bar(60, 2.0), bar(60, 9.0, resolution="5")])  # nobody follows "5"
    assert [(u.time, u.close) for u, _ in hub._pending.take()] == [(60, 2.0)]
    assert hub.updates_seen == 3


async def test_bars_reread_after_a_gap_wait_for_the_next_paced_round() -> None:
    reread: list[list[tuple[str, str]]] = []

    async def current(keys: list[tuple[str, str]]) -> list[BarUpdate]:
        reread.append(keys)
        return [bar(60, 4.0)]

    hub = Hub(None, queue_limit=8)
    c = hub.attach(Connection(8))
    journal = hub.subscribe(c, KEY)
    await hub.resync(current)
    assert reread == [[KEY]] and journal.since == hub.now
    assert c.take()[0] == b""  # nothing went out outside a round
    await hub._round(hub._pending.take())
    assert [(kind, d["close"]) for _, kind, d in events(c.take()[0])] == [("bar", 4.0)]


def closes(transport: BufferTransport) -> list[float]:
    return [d["close"] for _, _, d in events(transport.body())]


def direct_client(hub: Hub) -> BufferTransport:
    """A connection subscribed to `KEY`, written to directly; its socket."""
    transport = BufferTransport()
    c = hub.attach(Connection(8))
    hub.subscribe(c, KEY)
    c.go_direct(transport)
    return transport


@contextlib.asynccontextmanager
async def fanning_out(hub: Hub) -> AsyncIterator[None]:
    """The hub's fan-out rounds run for the block."""
    rounds = asyncio.create_task(hub._fan_out())
    try:
        yield
    finally:
        rounds.cancel()
        await asyncio.gather(rounds, return_exceptions=True)


async def test_a_round_due_during_an_engine_commit_waits_for_it() -> None:
    hub = Hub(None, queue_limit=8, commit_wait_s=3600)  # a commit is never waited out here
    transport = direct_client(hub)
    async with fanning_out(hub):
        with hub.committing():
            hub.receive_all([bar(60, 1.0)])
            for _ in range(20):  # the round is due: let the fan-out task run as much as it would
                await asyncio.sleep(0)
            assert transport.body() == b""  # held while the commit runs
            hub.receive_all([bar(60, 2.0)])  # the commit's own update joins the round
        await eventually(lambda: closes(transport) == [2.0], 10, what="the round after the commit")


async def test_a_stuck_commit_holds_no_round_for_long() -> None:
    hub = Hub(None, queue_limit=8, commit_wait_s=0.01)
    transport = direct_client(hub)
    async with fanning_out(hub):
        with hub.committing():  # a commit that does not end (database down)
            hub.receive_all([bar(60, 3.0)])
            await eventually(lambda: closes(transport) == [3.0], 10, what="the round, without the commit's end")


async def test_the_engine_waits_for_an_owed_round_before_its_next_commit_but_not_long() -> None:
    short = Hub(None, queue_limit=8, round_wait_s=0.01)
    direct_client(short)
    await asyncio.wait_for(short.settled(), 10)  # nothing owed: at once
    short.receive_all([bar(60, 1.0)])
    await asyncio.wait_for(short.settled(), 10)  # owed, and no round runs: waits out its bound, then goes on
    assert not short._settled.is_set(), "the round is still owed: settled() returned on its bound"

    hub = Hub(None, queue_limit=8, round_wait_s=3600)  # only the round can end the wait here
    transport = direct_client(hub)
    async with fanning_out(hub):
        hub.receive_all([bar(60, 2.0)])
        await asyncio.wait_for(hub.settled(), 10)  # the round ran: settled long before the bound
        assert closes(transport) == [2.0]
