"""The replay clock: where a replay stands in event time, and how fast it moves.

The position `P` (ms) means "every tick with event time before `P` has been replayed".
Playing at speed `s`, `P` advances `s` ms per wall-clock ms; at `max` speed (`speed`
None) `P` advances only as far as the ticks replayed (`passed`), as fast as they are
read. `pause` freezes it, `resume` lets it run again. `step` and `jump` *sprint*: every
tick before a target is replayed at once, then `P` sits on the target — a step pauses
there, a jump carries on as before (playing or paused).

Pure: the wall clock is a function given to the constructor (`time.monotonic` by
default); tests and virtual-time replays give their own. Nothing here sleeps: `wait`
says how long until a tick falls due and the caller decides how to wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

MIN_SPEED = 1.0
MAX_SPEED = 10_000.0


class ClockError(ValueError):
    """A control that cannot apply (a speed out of range, a jump backwards)."""


def check_speed(speed: float | None) -> float | None:
    """`speed` if it is None (max) or within `MIN_SPEED`..`MAX_SPEED`; else ClockError."""
    if speed is not None and not MIN_SPEED <= speed <= MAX_SPEED:
        raise ClockError(f"speed must be between {MIN_SPEED:g} and {MAX_SPEED:g} (or max), not {speed:g}")
    return speed


@dataclass(frozen=True, slots=True)
class ClockState:
    """What a client is told about the clock."""

    position: int
    speed: float | None
    paused: bool
    sprinting: bool


class ReplayClock:
    """See the module docstring. `start_ms` is the first position, `speed` None is max."""

    def __init__(
        self,
        start_ms: int,
        speed: float | None = 1.0,
        *,
        paused: bool = False,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._now = now
        self._anchor_ms = start_ms
        self._anchor_wall = now()
        self.speed = check_speed(speed)
        self.paused = paused
        #: The sprint's target position, and whether the clock pauses when it arrives.
        self._target: int | None = None
        self._pause_after = False

    @property
    def sprinting(self) -> bool:
        return self._target is not None

    @property
    def target(self) -> int | None:
        return self._target

    def state(self) -> ClockState:
        return ClockState(self.position(), self.speed, self.paused, self.sprinting)

    def position(self) -> int:
        """`P` now."""
        if self.paused or self.speed is None or self._target is not None:
            return self._anchor_ms
        return self._anchor_ms + int((self._now() - self._anchor_wall) * self.speed * 1000)

    def _anchor(self, position: int) -> None:
        self._anchor_ms = position
        self._anchor_wall = self._now()

    def due_before(self) -> int | None:
        """Ticks with event time below this are due now; None: any tick is (max speed)."""
        if self._target is not None:
            return self._target
        if self.speed is None and not self.paused:
            return None
        return self.position()

    def wait(self, next_ts: int) -> float | None:
        """Seconds until a tick at `next_ts` falls due: 0 now, None not before a control."""
        if self._target is not None:
            return 0.0 if next_ts < self._target else None
        if self.paused:
            return None
        if self.speed is None:
            return 0.0
        ahead = next_ts + 1 - self.position()
        return 0.0 if ahead <= 0 else ahead / self.speed / 1000

    def passed(self, ts: int) -> None:
        """A tick at `ts` was replayed: at max speed or in a sprint, `P` moves past it."""
        if self.speed is None or self._target is not None:
            position = ts + 1 if self._target is None else min(ts + 1, self._target)
            if position > self._anchor_ms:
                self._anchor(position)

    def arrive(self) -> None:
        """The sprint has replayed every tick before its target: `P` is the target now."""
        target = self._target
        if target is None:
            return
        self._target = None
        self._anchor(max(target, self._anchor_ms))
        if self._pause_after:
            self.paused = True

    def pause(self) -> None:
        if self._target is not None:
            self._pause_after = True
            return
        if not self.paused:
            self._anchor(self.position())
            self.paused = True

    def resume(self) -> None:
        if self._target is not None:
            self._pause_after = False
            return
        if self.paused:
            self._anchor(self._anchor_ms)
            self.paused = False

    def set_speed(self, speed: float | None) -> None:
        check_speed(speed)
        self._anchor(self.position())
        self.speed = speed

    def step(self, target: int) -> None:
        """Replay every tick before `target` at once, then pause there."""
        self._sprint(target, pause_after=True)

    def jump(self, target: int) -> None:
        """Replay every tick before `target` at once, then go on as before (playing or paused)."""
        paused = self._pause_after if self._target is not None else self.paused
        self._sprint(target, pause_after=paused)

    def _sprint(self, target: int, *, pause_after: bool) -> None:
        here = self.position()
        if target <= here:
            raise ClockError(f"the replay is at {here} ms already: jump to a later time")
        self._anchor(here)
        self.paused = False
        self._target = target
        self._pause_after = pause_after
