"""Ticks folded into 1-second bars, a whole batch at a time: the one fold of the engine,
`db verify` and `candleflow replay`.

`fold_seconds` sorts a batch's valid ticks by (symbol, second, event time, log offset)
and reads every bar off the sorted columns: open is the first tick of its run, close the
last, high and low the extremes, trades the run's length, volume the exact decimal sum
(`candleflow.domain.decimals.Volumes`). Those are `Bar.absorb`'s rules — open the
earliest `(ts, seq)`, close the latest, ties in time broken by offset and, for equal
offsets, by batch order — so the bars equal `candleflow.domain.bars.second_bars` over the
same ticks field for field (`tests/unit/domain/test_fold.py` holds them to each other
with Hypothesis). The work per tick is a handful of numpy passes; Python runs once per
bar, not once per tick.

`TickFolder` keeps folding batches of `(offset, raw value)` records into one set of
1-second bars, for the bulk readers of the log (verify, replay and its catch-up), with
the symbols and `since` filters they take; `finish` rolls the seconds up into every
resolution once (`candleflow.domain.bars.roll_up`). It keeps and skips exactly the
records the engine keeps and dead-letters: both decode with
`candleflow.domain.tick_decode.decode_batch`.

Memory: one `Bar` (about 250 bytes) per symbol and second with ticks, plus the rolled-up
bars at the end. Narrow very long reads by symbols or a `since` cutoff.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from candleflow.domain.bars import Bar, BarKey, LevelKey, roll_up
from candleflow.domain.decimals import Volumes, places
from candleflow.domain.pricescale import BUCKETS, TickSize, parse_tick_size
from candleflow.domain.symbols import SymbolSeen
from candleflow.domain.tick_decode import TickColumns, decode_batch
from candleflow.domain.ticks import price_decimals


@dataclass(slots=True)
class Folded:
    """One batch folded: its 1-second bars and what it tells the `symbols` table."""

    bars: dict[LevelKey, Bar]
    seen: dict[str, SymbolSeen]
    #: per symbol, the batch position of one of its ticks (its partition, for the engine)
    sample: dict[str, int]


def fold_seconds(ticks: TickColumns, seq: npt.NDArray[np.int64]) -> Folded:
    """Fold `ticks` (with `seq[i]`, the log offset of tick `i`) into 1-second bars."""
    count = len(ticks)
    if not count:
        return Folded({}, {}, {})
    ids: dict[str, int] = {}
    symbol_id = np.array([ids.setdefault(symbol, len(ids)) for symbol in ticks.symbols], dtype=np.int64)
    names = list(ids)
    ts = ticks.ts
    second = ts - ts % 1000
    order = np.lexsort((seq, ts, second, symbol_id))
    sorted_id, sorted_second = symbol_id[order], second[order]
    cuts = np.flatnonzero((sorted_id[1:] != sorted_id[:-1]) | (sorted_second[1:] != sorted_second[:-1])) + 1
    starts = np.concatenate((np.zeros(1, dtype=np.int64), cuts))
    firsts, lasts = order[starts], order[np.append(cuts, count) - 1]
    price = ticks.price[order]
    columns = zip(
        sorted_id[starts].tolist(),
        sorted_second[starts].tolist(),
        ticks.price[firsts].tolist(),
        np.maximum.reduceat(price, starts).tolist(),
        np.minimum.reduceat(price, starts).tolist(),
        ticks.price[lasts].tolist(),
        np.diff(np.append(starts, count)).tolist(),
        ts[firsts].tolist(),
        seq[firsts].tolist(),
        ts[lasts].tolist(),
        seq[lasts].tolist(),
        strict=True,
    )
    volumes = Volumes(ticks.qty[order], starts)
    bars = {
        (names[sid], start): Bar(o, h, low, c, volumes.total(g), n, o_ts, o_seq, c_ts, c_seq)
        for g, (sid, start, o, h, low, c, n, o_ts, o_seq, c_ts, c_seq) in enumerate(columns)
    }
    symbol_starts = np.flatnonzero(np.diff(sorted_id, prepend=-1))
    sorted_ts = ts[order]
    firsts_ts = sorted_ts[symbol_starts].tolist()
    lasts_ts = sorted_ts[np.append(symbol_starts[1:], count) - 1].tolist()
    found = _places(price)
    decimals = np.maximum.reduceat(found, symbol_starts).tolist()
    ends = np.append(symbol_starts[1:], count).tolist()
    samples = ticks.positions[order[symbol_starts]].tolist()
    capped = np.minimum(found, BUCKETS - 1)
    seen: dict[str, SymbolSeen] = {}
    sample: dict[str, int] = {}
    for sid, start, end, first, last, most, position in zip(
        sorted_id[symbol_starts].tolist(),
        symbol_starts.tolist(),
        ends,
        firsts_ts,
        lasts_ts,
        decimals,
        samples,
        strict=True,
    ):
        counts = np.bincount(capped[start:end], minlength=BUCKETS).tolist()
        tick = None if ticks.tick_sizes is None else _latest_tick_size(ticks.tick_sizes, order[start:end])
        seen[names[sid]] = SymbolSeen(int(most), first, last, counts, tick)
        sample[names[sid]] = position
    return Folded(bars, seen, sample)


def _places(price: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """The decimal places (`price_decimals`) of each price."""
    found = places(price).astype(np.int64)
    unknown = np.flatnonzero(found < 0)
    if len(unknown):
        found[unknown] = [price_decimals(p) for p in price[unknown].tolist()]
    return found


def _latest_tick_size(sizes: list[str | None], members: npt.NDArray[np.int64]) -> TickSize | None:
    """The tick size of the latest tick (in event time, then offset) of a symbol that carries one."""
    for index in reversed(members.tolist()):
        text = sizes[index]
        if text is not None:
            return parse_tick_size(text)
    return None


def decode_records(
    records: Sequence[tuple[int, bytes]], *, now_ms: int, future_tolerance_s: float
) -> tuple[TickColumns, npt.NDArray[np.int64], int]:
    """The valid ticks of `(offset, raw value)` records as the engine keeps them, each
    tick's offset, and the number of records the engine dead-letters."""
    decoded = decode_batch([value for _, value in records], now_ms=now_ms, future_tolerance_s=future_tolerance_s)
    offsets = np.array([offset for offset, _ in records], dtype=np.int64)[decoded.ticks.positions]
    return decoded.ticks, offsets, len(decoded.rejects)


class TickFolder:
    """Folds batches of `(offset, raw value)` into 1-second bars.

    `symbols` keeps only those symbols (None: all); `since` keeps only ticks with event
    time >= since (the `--from` cutoff). `now_ms` fixes "now" for the future-time check
    (default: the time of each batch, as the engine does).
    """

    def __init__(
        self,
        *,
        symbols: frozenset[str] | None = None,
        since: int | None = None,
        future_tolerance_s: float = 300.0,
        now_ms: int | None = None,
    ) -> None:
        self.symbols = symbols
        self.since = since
        self.future_tolerance_s = future_tolerance_s
        self.now_ms = now_ms
        self.seconds: dict[LevelKey, Bar] = {}
        self._seen: dict[str, SymbolSeen] = {}
        self.records = 0  # every record read
        self.invalid = 0  # skipped: the engine dead-letters them
        self.kept = 0  # ticks folded into bars (valid, of the wanted symbols, not before `since`)

    def add(self, records: Iterable[tuple[int, bytes]]) -> None:
        """Fold one batch of records (any order, any partitions)."""
        batch = list(records)
        now = int(time.time() * 1000) if self.now_ms is None else self.now_ms
        ticks, offsets, invalid = decode_records(batch, now_ms=now, future_tolerance_s=self.future_tolerance_s)
        self.records += len(batch)
        self.invalid += invalid
        keep = np.ones(len(ticks), dtype=bool)
        if self.since is not None:
            keep &= ticks.ts >= self.since
        if self.symbols is not None:
            wanted = self.symbols
            keep &= np.array([symbol in wanted for symbol in ticks.symbols], dtype=bool)
        if not keep.all():
            ticks, offsets = ticks.take(keep), offsets[keep]
        self.kept += len(ticks)
        folded = fold_seconds(ticks, offsets)
        seconds = self.seconds
        for key, bar in folded.bars.items():
            held = seconds.get(key)
            if held is None:
                seconds[key] = bar
            else:
                held.merge(bar)
        for symbol, info in folded.seen.items():
            held_info = self._seen.get(symbol)
            if held_info is None:
                self._seen[symbol] = info
            else:
                held_info.widen(info)

    @property
    def valid(self) -> int:
        """Records that are ticks, wanted or not."""
        return self.records - self.invalid

    def seen(self) -> dict[str, SymbolSeen]:
        """Per symbol: most price decimals, first and last tick time, decimals histogram, tick size (copies)."""
        return {
            symbol: SymbolSeen(i.decimals, i.first, i.last, None if i.counts is None else list(i.counts), i.tick)
            for symbol, i in self._seen.items()
        }

    def finish(self) -> dict[BarKey, Bar]:
        """Every supported resolution's bars (the 1-second bars are shared, not copied)."""
        return roll_up(self.seconds)
