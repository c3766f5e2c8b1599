"""The replay clock, on a hand-driven wall clock."""

from __future__ import annotations

import pytest

from candleflow.replay.clock import ClockError, ReplayClock


class Wall:
    def __init__(self) -> None:
        self.at = 100.0

    def __call__(self) -> float:
        return self.at


def test_playing_moves_speed_ms_per_wall_ms_and_pause_freezes_it() -> None:
    wall = Wall()
    clock = ReplayClock(1_000_000, 10, now=wall)
    wall.at += 2.0
    assert clock.position() == 1_020_000
    assert clock.due_before() == 1_020_000
    assert clock.wait(1_020_000) == pytest.approx(0.0001)
    assert clock.wait(1_019_999) == 0.0
    clock.pause()
    wall.at += 50
    assert clock.position() == 1_020_000 and clock.wait(1_030_000) is None
    clock.resume()
    wall.at += 1
    assert clock.position() == 1_030_000


def test_a_new_speed_applies_from_now_without_a_jump() -> None:
    wall = Wall()
    clock = ReplayClock(0, 1, now=wall)
    wall.at += 1
    clock.set_speed(600)
    assert clock.position() == 1_000
    wall.at += 1
    assert clock.position() == 601_000
    assert clock.wait(661_000 - 1) == pytest.approx(0.1)


def test_max_speed_moves_only_past_the_ticks_replayed() -> None:
    wall = Wall()
    clock = ReplayClock(5_000, None, now=wall)
    assert clock.due_before() is None and clock.wait(10**12) == 0.0
    clock.passed(7_000)
    clock.passed(6_000)  # a late tick does not move it back
    wall.at += 100
    assert clock.position() == 7_001
    clock.pause()
    assert clock.due_before() == 7_001 and clock.wait(7_500) is None


def test_step_replays_everything_before_the_target_then_pauses_there() -> None:
    wall = Wall()
    clock = ReplayClock(60_000, 1, now=wall)
    clock.step(120_000)
    assert clock.sprinting and clock.due_before() == 120_000
    assert clock.wait(119_999) == 0.0 and clock.wait(120_000) is None
    clock.passed(90_000)
    assert clock.position() == 90_001
    wall.at += 1_000  # the wall clock does not move a sprint
    clock.arrive()
    assert (clock.position(), clock.paused, clock.sprinting) == (120_000, True, False)


def test_a_jump_carries_on_playing_or_paused_as_before() -> None:
    wall = Wall()
    clock = ReplayClock(0, 2, now=wall)
    clock.jump(10_000)
    clock.arrive()
    wall.at += 1
    assert clock.position() == 12_000 and not clock.paused
    clock.pause()
    clock.jump(20_000)
    clock.arrive()
    assert clock.position() == 20_000 and clock.paused
    clock.jump(30_000)
    clock.resume()  # during the sprint: it plays on after it
    clock.arrive()
    wall.at += 1
    assert clock.position() == 32_000


def test_controls_that_cannot_apply_are_refused() -> None:
    clock = ReplayClock(50_000, 1, now=Wall())
    with pytest.raises(ClockError, match="later time"):
        clock.jump(50_000)
    with pytest.raises(ClockError, match="between"):
        clock.set_speed(20_000)
    with pytest.raises(ClockError, match="between"):
        ReplayClock(0, 0.5)
    clock.set_speed(10_000)
    clock.set_speed(None)
    assert clock.speed is None
