"""The replays' shared chunk cache: one read per chunk, however many replays ask at once."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from candleflow.domain.tick_decode import TickColumns
from candleflow.replay.chunks import Chunk, ChunkCache


def chunk(start: int, stop: int) -> Chunk:
    empty = TickColumns(np.zeros(0, np.int64), [], np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    return Chunk(start, stop, empty, np.zeros(0, np.int64))


async def test_replays_asking_together_share_one_read_and_later_ones_hit() -> None:
    cache = ChunkCache(capacity=2)
    reads: list[int] = []

    async def read(start: int, stop: int) -> Chunk:
        reads.append(start)
        await asyncio.sleep(0.01)
        return chunk(start, stop)

    got = await asyncio.gather(*(cache.get(("t", 0, 0), 100, lambda: read(0, 100)) for _ in range(5)))
    assert reads == [0] and all(c is got[0] for c in got) and cache.hits == 4
    assert (await cache.get(("t", 0, 0), 100, lambda: read(0, 100))) is got[0]
    # a short chunk (read at the log's end) is read again for the offsets after it
    await cache.get(("t", 0, 100), 150, lambda: read(100, 150))
    longer = await cache.get(("t", 0, 100), 200, lambda: read(100, 200))
    assert longer.stop == 200 and reads == [0, 100, 100]
    await cache.get(("t", 1, 0), 100, lambda: read(0, 100))
    assert len(cache) == 2  # the least recently used went
    await cache.get(("t", 0, 0), 100, lambda: read(0, 100))
    assert reads == [0, 100, 100, 0, 0]


async def test_a_failed_read_is_read_again_by_those_who_waited_for_it() -> None:
    cache = ChunkCache()
    attempts = 0

    async def read() -> Chunk:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.01)
        if attempts == 1:
            raise ConnectionError("broker gone")
        return chunk(0, 10)

    first = asyncio.create_task(cache.get(("t", 0, 0), 10, read))
    await asyncio.sleep(0)
    second = asyncio.create_task(cache.get(("t", 0, 0), 10, read))
    with pytest.raises(ConnectionError):
        await first
    assert (await second).stop == 10 and attempts == 2
