"""Freed memory given back after a wave of departures, once, and never for a steady
coming and going."""

from __future__ import annotations

import platform

import pytest

from candleflow.core.memory import Departures, give_back


def departures(threshold: int = 10) -> tuple[Departures, list[int]]:
    trims: list[int] = []

    def give() -> bool:
        trims.append(1)
        return True

    return Departures(threshold, give=give), trims


def test_a_wave_leaving_is_one_trim_once_the_count_stops_falling() -> None:
    counter, trims = departures(threshold=30)
    for now in (0, 50, 100, 80, 40, 5, 0):
        assert not counter.count(now)  # still falling
    assert counter.count(0)  # settled: the last ones' memory is free by now
    assert not counter.count(0)
    assert trims == [1]


def test_a_long_fall_is_trimmed_on_the_way() -> None:
    counter, trims = departures()
    counter.count(500)
    given = [counter.count(now) for now in range(495, 0, -5)]
    assert given.count(True) == len(trims) >= 5  # every 80 (PATIENCE x threshold) that left


def test_coming_and_going_below_the_threshold_costs_nothing() -> None:
    counter, trims = departures()
    for now in (100, 95, 100, 92, 100, 91, 100) * 10:
        counter.count(now)
    assert trims == []


def test_give_back_reaches_glibc() -> None:
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's; elsewhere give_back does nothing")
    blocks = [bytearray(64 * 1024) for _ in range(256)]  # 16 MB of the C heap (below the mmap threshold)
    pin = bytearray(64 * 1024)  # above them: their pages are free, not at the heap's top
    del blocks
    assert give_back() is True
    del pin
