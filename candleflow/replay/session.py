"""One replay, start to caught-up: the log read from the start time, paced by the clock.

`prepare` opens the log (`candleflow.replay.log`) and reads each series' state before
its first bucket from the store; `run` then loops: find when the next tick falls due
(`ReplayClock.wait`), wait for it (or for a control), take every tick due at once
(at most `frame_ticks`), fold them into 1-second bars with the engine's fold
(`candleflow.domain.fold.fold_seconds`), let each series merge them and close what
closed (`candleflow.replay.series`), and hand the frame's events to `emit`, which
awaits the client's socket (so a slow client slows its replay and nothing piles up).
Frames at a finite speed are at least `frame_s` apart: faster ticks share a frame,
latest state per bar, as the live hub coalesces its rounds.

Controls (`pause`, `resume`, `set_speed`, `step`, `jump`) change the clock and wake the
loop; each is answered by a `clock` event. Waiting goes through `Waiter`, so a test can
run a 1x replay in virtual time (`VirtualTime`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from candleflow.domain.fold import fold_seconds
from candleflow.domain.resolution import Resolution
from candleflow.functions.registry import FunctionSet
from candleflow.kafka.log_reader import LogReader
from candleflow.replay.chunks import ChunkCache
from candleflow.replay.clock import ReplayClock
from candleflow.replay.events import Event
from candleflow.replay.log import TickLog
from candleflow.replay.series import SeriesReplay
from candleflow.store.connection import Lender
from candleflow.store.series import prefixes

#: Wall-clock seconds between `clock` events while the replay plays.
CLOCK_EVERY_S = 1.0

Emit = Callable[[list[Event]], Awaitable[None]]


class Waiter(Protocol):
    """Waits `seconds` (None: for ever) or until `woken` is set, whichever comes first."""

    async def __call__(self, seconds: float | None, woken: asyncio.Event) -> None: ...


async def wall_wait(seconds: float | None, woken: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await woken.wait()


class VirtualTime:
    """A wall clock that moves only when someone waits on it: `now` for the clock, and a
    `Waiter` that advances it by the time waited at once (paused: waits for real)."""

    def __init__(self, start: float = 0.0) -> None:
        self.at = start

    def now(self) -> float:
        return self.at

    async def __call__(self, seconds: float | None, woken: asyncio.Event) -> None:
        if seconds is None:
            await woken.wait()
            return
        self.at += seconds
        await asyncio.sleep(0)


@dataclass(frozen=True, slots=True)
class Pacing:
    """`frame_s`: least wall time between frames at a finite speed; `frame_ticks`: most
    ticks in one frame; `window`: bars a series keeps; `chunk`: offsets read at a time."""

    frame_s: float = 0.2
    frame_ticks: int = 5_000
    window: int = 2_000
    chunk: int = 500


class Replay:
    """The replay of `series` ((symbol, resolution) pairs) from `start_ms`."""

    def __init__(
        self,
        series: Sequence[tuple[str, Resolution]],
        start_ms: int,
        *,
        reader: LogReader,
        db: Lender,
        functions: FunctionSet,
        future_tolerance_s: float,
        speed: float | None = 1.0,
        paused: bool = False,
        pacing: Pacing = Pacing(),
        chunks: ChunkCache | None = None,
        now: Callable[[], float] | None = None,
        waiter: Waiter = wall_wait,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.reader = reader
        self.db = db
        self.functions = functions
        self.pacing = pacing
        self.waiter = waiter
        self._now = now or time.monotonic
        self.clock = ReplayClock(start_ms, speed, paused=paused, now=self._now)
        self.series = [
            SeriesReplay((symbol, res.code), res, res.floor(start_ms), functions, window=pacing.window)
            for symbol, res in dict.fromkeys(series)
        ]
        since: dict[str, int] = {}
        for s in self.series:
            since[s.key[0]] = min(since.get(s.key[0], s.since), s.since)
        self.log = TickLog(reader, since, future_tolerance_s=future_tolerance_s, chunk=pacing.chunk, chunks=chunks)
        self._woken = asyncio.Event()
        self._announce = False
        self.caught_up = False
        self.stopped = False

    async def prepare(self) -> None:
        """Open the log and read each series' state before its first bucket (ReplayError:
        the log cannot serve this start)."""
        await self.reader.__aenter__()
        try:
            await self.log.open()
            await self._start_series()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        await self.reader.__aexit__(None, None, None)

    async def _start_series(self) -> None:
        spans = [(s.key, s.since) for s in self.series]
        async with self.db.connection() as conn:
            found = await prefixes(conn, self.functions, spans, history=False)
        for series, prefix in zip(self.series, found, strict=True):
            series.start(prefix.bars, prefix.seeds)

    def hello(self) -> Event:
        state = self.clock.state()
        return Event(
            "hello",
            {
                "replay": self.id,
                "series": [
                    {"symbol": s.key[0], "resolution": s.key[1], "history_to": s.since // 1000} for s in self.series
                ],
                "speed": state.speed,
                "paused": state.paused,
            },
        )

    def _stamped(self, events: list[Event]) -> list[Event]:
        position = self.clock.position()
        return [Event(e.kind, {**e.data, "clock_ms": position}) for e in events]

    def clock_event(self) -> Event:
        state = self.clock.state()
        return Event("clock", {"speed": state.speed, "paused": state.paused})

    # ----------------------------------------------------------------- controls

    def _changed(self) -> None:
        self._announce = True
        self._woken.set()

    def stop(self) -> None:
        """End `run` at its next turn (the process shuts down)."""
        self.stopped = True
        self._woken.set()

    def pause(self) -> None:
        self.clock.pause()
        self._changed()

    def resume(self) -> None:
        self.clock.resume()
        self._changed()

    def set_speed(self, speed: float | None) -> None:
        self.clock.set_speed(speed)
        self._changed()

    def step(self) -> None:
        """Replay until the current bar of the finest series closes, then pause."""
        here = self.clock.position()
        self.clock.step(min(s.resolution.next(s.resolution.floor(here)) for s in self.series))
        self._changed()

    def jump(self, to_ms: int) -> None:
        self.clock.jump(to_ms)
        self._changed()

    # ----------------------------------------------------------------- the loop

    async def run(self, emit: Emit) -> None:
        """Replay until caught up (see the module docstring); `prepare` first."""
        clock, log, pacing = self.clock, self.log, self.pacing
        await emit(self._stamped([self.hello()]))
        clock_sent = self._now()
        while not self.stopped:
            self._woken.clear()
            events: list[Event] = []
            if self._announce:
                self._announce = False
                events.append(self.clock_event())
            next_ts = await log.next_ts()
            if next_ts is None:
                clock.arrive()
                for series in self.series:
                    events.extend(series.close(clock.position(), everything=True))
                events.append(Event("caught_up", {}))
                await emit(self._stamped(events))
                self.caught_up = True
                return
            wait = clock.wait(next_ts)
            if wait is None and clock.sprinting:
                clock.arrive()
                wait = 0.0 if not clock.paused else None
                events.extend(self._close_all())
                events.append(self.clock_event())
            if wait is None or wait > 0:
                if events:
                    await emit(self._stamped(events))
                if wait is not None and self._now() - clock_sent >= CLOCK_EVERY_S:
                    clock_sent = self._now()
                    await emit(self._stamped([self.clock_event()]))
                await self.waiter(None if wait is None else min(wait, CLOCK_EVERY_S), self._woken)
                closed = self._close_all()
                if closed:
                    await emit(self._stamped(closed))
                continue
            batch = log.take(clock.due_before(), pacing.frame_ticks)
            if len(batch):
                seconds = fold_seconds(batch.ticks, batch.offsets).bars
                newest = batch.newest
                if newest is not None:
                    clock.passed(newest)
                position = clock.position()
                for series in self.series:
                    applied, lost = series.apply(seconds, position)
                    events.extend(applied)
                    if lost:
                        events.extend(await self._reseed(series, lost, position))
            if events:
                await emit(self._stamped(events))
            if clock.speed is not None and not clock.sprinting and not clock.paused:
                await self.waiter(pacing.frame_s, self._woken)
            else:
                await asyncio.sleep(0)  # let the live engine and other clients run

    def _close_all(self) -> list[Event]:
        position = self.clock.position()
        events: list[Event] = []
        for series in self.series:
            events.extend(series.close(position))
        return events

    async def _reseed(self, series: SeriesReplay, lost: list[int], position: int) -> list[Event]:
        edge = series.edge
        at = series.buckets[edge] if edge < len(series.buckets) else series.resolution.next(series.buckets[-1])
        async with self.db.connection() as conn:
            (prefix,) = await prefixes(conn, self.functions, [(series.key, at)], history=False)
        return series.reseed(lost, prefix.bars, prefix.seeds, position)
