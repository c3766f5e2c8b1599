"""How one fan-out round of the SSE hub (`candleflow.web.hub`) shares the event loop and
takes newer updates along.

A round yields to the event loop every `FAN_OUT_SLICE_S` (`Turn`), checking the clock
every `ROUND_STEP` connections; each time it did, newer updates of the series it is
delivering are taken along (`superseded`) for the connections that carry that series
alone (`carries_one_series`), as the hub's module docstring explains.
"""

from __future__ import annotations

import asyncio
import time

from candleflow.web.connection import Bodies, Connection

#: Seconds a fan-out round writes at most before it lets the event loop run other work.
#: Whatever else the process does waits that long per turn, and an update from Kafka
#: takes several turns to reach the hub (socket, fetcher, `getmany`, feed): with slices
#: of 256 connections (about 2 ms) that hop took 12-15 ms on average at 1,000 clients
#: (`bench/bench_scale.py`), with turns of 0.5 ms 5-10 ms.
FAN_OUT_SLICE_S = 0.0005
#: Connections written to between two looks at the clock.
ROUND_STEP = 32

#: A series' updates of one round, stamped: (the events, stamp, receipt time) each.
Batch = list[tuple[Bodies, int, float]]


class Turn:
    """A fan-out round's share of the event loop: `take` yields once the round has run for
    `FAN_OUT_SLICE_S` since it last did."""

    def __init__(self) -> None:
        self._ends = time.perf_counter() + FAN_OUT_SLICE_S

    async def take(self) -> bool:
        """Let other work run if this turn is over; whether it did."""
        if time.perf_counter() < self._ends:
            return False
        await asyncio.sleep(0)
        self._ends = time.perf_counter() + FAN_OUT_SLICE_S
        return True


def superseded(batch: Batch, newer: Batch) -> Batch:
    """`batch` followed by `newer`, without the bars `newer` brings a later state of (a
    correction stays: the client must apply it in place)."""
    slots = {bodies.slot for bodies, _, _ in newer}
    return [item for item in batch if item[0].slot not in slots or item[0].update.correction] + newer


def carries_one_series(connection: Connection) -> bool:
    """Whether `connection` carries one series and nothing else (why it matters: the
    docstring of `candleflow.web.hub`)."""
    return len(connection.subscriptions) == 1 and not connection.quoted
