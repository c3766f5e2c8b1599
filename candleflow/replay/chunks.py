"""Chunks of the tick log, decoded once and shared by every replay of a process.

A replay reads its partitions `chunk` offsets at a time, aligned to multiples of
`chunk`, so replays of the same stretch of a partition ask for the same chunks (a
partition holds many symbols: each replay keeps only its own, but all of them read the
same records). The first replay to ask reads and decodes a chunk; the others, asking
meanwhile or later, take it from here. At most `capacity` chunks are kept (least
recently used first out): about `capacity` x `chunk` x 50 bytes of columns.

A chunk read at the end of the log is short (it stops at the end offset then); it is
kept until a replay needs the offsets after it, which it then reads afresh.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from candleflow.domain.tick_decode import TickColumns

#: (topic, partition, first offset)
ChunkKey = tuple[str, int, int]


@dataclass(frozen=True, slots=True)
class Chunk:
    """The valid ticks of offsets `[start, stop)` of a partition, in log order."""

    start: int
    stop: int
    ticks: TickColumns
    offsets: npt.NDArray[np.int64]


class ChunkCache:
    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._chunks: OrderedDict[ChunkKey, Chunk] = OrderedDict()
        self._reading: dict[ChunkKey, asyncio.Future[Chunk]] = {}
        self.hits = 0
        self.reads = 0

    def __len__(self) -> int:
        return len(self._chunks)

    async def get(self, key: ChunkKey, stop: int, read: Callable[[], Awaitable[Chunk]]) -> Chunk:
        """The chunk `key` read at least up to `stop` (`read` reads it when nobody has)."""
        held = self._chunks.get(key)
        if held is not None and held.stop >= stop:
            self._chunks.move_to_end(key)
            self.hits += 1
            return held
        pending = self._reading.get(key)
        if pending is not None:
            try:
                chunk = await asyncio.shield(pending)
            except BaseException:
                if not pending.done():
                    raise  # this replay was cancelled, not the read
            else:
                if chunk.stop >= stop:
                    self.hits += 1
                    return chunk
        return await self._read(key, read)

    async def _read(self, key: ChunkKey, read: Callable[[], Awaitable[Chunk]]) -> Chunk:
        future: asyncio.Future[Chunk] = asyncio.get_running_loop().create_future()
        self._reading[key] = future
        self.reads += 1
        try:
            chunk = await read()
        except BaseException as exc:
            future.set_exception(RuntimeError(f"the read of chunk {key} failed: {exc!r}"))
            future.exception()  # retrieved: nobody waiting is fine
            raise
        finally:
            if self._reading.get(key) is future:
                del self._reading[key]
        future.set_result(chunk)
        self._chunks[key] = chunk
        self._chunks.move_to_end(key)
        while len(self._chunks) > self.capacity:
            self._chunks.popitem(last=False)
        return chunk
