"""The ticks a replay reads: `ticks.raw` from a start time on, in log order, a chunk at a time.

Ticks are keyed by symbol, so a replay reads only the partitions of its symbols
(`partition_of`). Each starts at the first offset appended at or after `since - lead`
(`LogReader.offsets_at`): `since` is the earliest bucket the replay rebuilds and `lead`
the future tolerance plus a minute of clock skew, because a tick may carry an event
time up to the future tolerance ahead of the moment it was appended — a tick with an
event time at or after `since` is never appended before `since - lead`. Records are
read `chunk` offsets at a time per partition (`LogReader.read`), decoded and validated
like the engine does (`candleflow.domain.tick_decode`), and only ticks of the wanted
symbols at or after their series' `since` are kept: a replay holds at most a chunk per
partition, whatever its range.

Chunks are aligned to multiples of `chunk` and shared by the replays of a process
(`candleflow.replay.chunks`): replays of the same stretch of a partition read and
decode it once.

`take` hands out the ticks due, per partition in log order (the order a series'
bars formed in); across partitions, at max speed, no partition runs ahead of the
event time another one has buffered. When every partition has been read to its end
(re-checked then, as new ticks keep arriving) the replay has caught up with the present.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from aiokafka.errors import KafkaError

from candleflow.domain.exceptions import CandleflowError
from candleflow.domain.fold import decode_records
from candleflow.domain.instants import iso
from candleflow.domain.tick_decode import TickColumns
from candleflow.kafka.exceptions import LogUnavailable
from candleflow.kafka.log_reader import LogReader, Span
from candleflow.kafka.topics import partition_of
from candleflow.replay.chunks import Chunk, ChunkCache

#: Clock skew allowed between the producers that append ticks and their event times.
SKEW_MS = 60_000


class ReplayError(CandleflowError):
    """A replay cannot start (or go on); the message says why and what to do."""


def _empty() -> TickColumns:
    return TickColumns(
        np.zeros(0, dtype=np.int64),
        [],
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.float64),
        np.zeros(0, dtype=np.float64),
    )


@dataclass(slots=True)
class Batch:
    """Ticks handed out together, each partition's in log order, with their log offsets."""

    ticks: TickColumns = field(default_factory=_empty)
    offsets: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.ticks)

    @property
    def newest(self) -> int | None:
        """The latest event time among the ticks (None: no ticks)."""
        return int(self.ticks.ts.max()) if len(self.ticks) else None


def concat(batches: list[Batch]) -> Batch:
    if len(batches) == 1:
        return batches[0]
    if not batches:
        return Batch()
    ticks = [b.ticks for b in batches]
    count = sum(len(t) for t in ticks)
    return Batch(
        TickColumns(
            np.arange(count, dtype=np.int64),
            [symbol for t in ticks for symbol in t.symbols],
            np.concatenate([t.ts for t in ticks]),
            np.concatenate([t.price for t in ticks]),
            np.concatenate([t.qty for t in ticks]),
        ),
        np.concatenate([b.offsets for b in batches]),
    )


@dataclass(slots=True)
class _Partition:
    number: int
    position: int
    end: int
    buffer: Batch = field(default_factory=Batch)
    head: int = 0

    @property
    def buffered(self) -> int:
        return len(self.buffer) - self.head

    def slice(self, count: int) -> Batch:
        at, self.head = self.head, self.head + count
        ticks = self.buffer.ticks
        return Batch(
            TickColumns(
                np.arange(count, dtype=np.int64),
                ticks.symbols[at : at + count],
                ticks.ts[at : at + count],
                ticks.price[at : at + count],
                ticks.qty[at : at + count],
            ),
            self.buffer.offsets[at : at + count],
        )


class TickLog:
    """The ticks of `since` (symbol -> earliest event time wanted, ms) from an open `LogReader`."""

    def __init__(
        self,
        reader: LogReader,
        since: Mapping[str, int],
        *,
        future_tolerance_s: float,
        chunk: int = 500,
        chunks: ChunkCache | None = None,
    ) -> None:
        self.reader = reader
        self.chunks = ChunkCache(capacity=4) if chunks is None else chunks
        self.since = dict(since)
        self.future_tolerance_s = future_tolerance_s
        self.chunk = chunk
        self._partitions: list[_Partition] = []
        self.records = 0

    @property
    def lead_ms(self) -> int:
        return int(self.future_tolerance_s * 1000) + SKEW_MS

    async def open(self) -> None:
        """Find where to start in each partition of the wanted symbols; ReplayError when
        retention has deleted ticks the replay needs."""
        numbers = sorted({partition_of(symbol, self.reader.partitions) for symbol in self.since})
        earliest = min(self.since.values(), default=0) - self.lead_ms
        try:
            begins, ends = await self.reader.bounds()
            found = await self.reader.offsets_at(max(0, earliest))
        except KafkaError as exc:
            raise LogUnavailable(f"cannot read the offsets of {self.reader.topic}: {exc!r}") from exc
        for p in numbers:
            at = found[p]
            start = ends[p] if at is None else at
            if begins[p] > 0 and start == begins[p]:
                raise ReplayError(
                    f"the log no longer holds every tick from {iso(earliest + self.lead_ms)} (retention deleted "
                    "the oldest ones): start the replay later"
                )
            self._partitions.append(_Partition(p, start, ends[p]))

    async def next_ts(self) -> int | None:
        """The event time of the next tick due first (reading on where a buffer ran
        out); None when every partition has been read to its end: caught up."""
        refreshed = False
        for part in self._partitions:
            while part.buffered == 0:
                if part.position >= part.end:
                    if refreshed:
                        break
                    await self._refresh_ends()
                    refreshed = True
                    if part.position >= part.end:
                        break
                await self._read(part)
        heads = [int(p.buffer.ticks.ts[p.head]) for p in self._partitions if p.buffered]
        return min(heads, default=None)

    async def _refresh_ends(self) -> None:
        _, ends = await self.reader.bounds()
        for part in self._partitions:
            part.end = max(part.end, ends[part.number])

    async def _read(self, part: _Partition) -> None:
        """The next chunk of `part` (shared with other replays through `chunks`), its
        ticks of the wanted symbols from the partition's position on."""
        first = part.position // self.chunk * self.chunk
        stop = min(part.end, first + self.chunk)
        key = (self.reader.topic, part.number, first)
        chunk = await self.chunks.get(key, stop, lambda: self._decoded(part.number, first, stop))
        ticks, offsets = chunk.ticks, chunk.offsets
        since = self.since
        floor = np.array([since.get(symbol, 2**62) for symbol in ticks.symbols], dtype=np.int64)
        keep = (ticks.ts >= floor) & (offsets >= part.position)
        part.position = max(part.position, chunk.stop)
        part.buffer, part.head = Batch(ticks.take(keep), offsets[keep]), 0

    async def _decoded(self, partition: int, start: int, stop: int) -> Chunk:
        records: list[tuple[int, bytes]] = []
        await self.reader.read({partition: Span(start, stop)}, lambda _p, got: records.extend(got))
        self.records += len(records)
        now = int(time.time() * 1000)
        ticks, offsets, _ = decode_records(records, now_ms=now, future_tolerance_s=self.future_tolerance_s)
        return Chunk(start, stop, ticks, offsets)

    def take(self, before: int | None, limit: int) -> Batch:
        """Up to `limit` due ticks: each partition's run of ticks before `before`
        (None: max speed, bounded by the newest event time every partition has buffered)."""
        live = [p for p in self._partitions if p.buffered]
        if before is None and len(live) > 1:
            before = min(int(p.buffer.ticks.ts[p.head :].max()) for p in live) + 1
        taken: list[Batch] = []
        left = limit
        for part in live:
            ts = part.buffer.ticks.ts[part.head :]
            if before is None:
                count = len(ts)
            else:
                late = ts >= before
                count = int(np.argmax(late)) if late.any() else len(ts)
            count = min(count, left)
            if count:
                taken.append(part.slice(count))
                left -= count
            if not left:
                break
        return concat(taken)
