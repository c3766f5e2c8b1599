"""`Pace` spaces actions by 1/rate on its own clock; `Backoff` grows, caps and resets."""

from __future__ import annotations

import random

from candleflow.sources.stream.backoff import Backoff, Timing
from candleflow.sources.stream.pacing import Pace


async def test_actions_are_spaced_by_the_rate() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pace = Pace(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        await pace.wait()
    assert slept == [0.25, 0.25, 0.25, 0.25]
    now[0] += 10
    await pace.wait()
    assert len(slept) == 4, "after a long pause the next action goes at once"


def test_backoff_grows_to_its_cap_resets_and_honours_floors() -> None:
    timing = Timing(backoff_initial=1.0, backoff_max=8.0, min_reconnect_delay=0.5, jitter=0.0)
    backoff = Backoff(timing, random.Random(1))
    assert [backoff.next() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    backoff.reset()
    assert backoff.next() == 1.0
    assert backoff.next(30.0) == 30.0
    assert backoff.next(minimum=0.1) == 0.1, "a scheduled reconnect does not wait out the backoff"
    jittered = Backoff(Timing(), random.Random(2))
    assert all(5.0 <= jittered.next() <= 150.0 for _ in range(30))
