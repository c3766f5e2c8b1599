"""`candleflow db verify`: the stored bars against a fresh aggregation of the tick log.

The whole ticks topic is read with `candleflow.kafka.log_reader.LogReader` (no group, every
partition from its first offset to the end offset seen at start) and folded into bars
by `candleflow.domain.fold.TickFolder` with `seq` = the record's offset: it keeps and skips
exactly the ticks the engine keeps and dead-letters, and gives the engine's bars.
The result is compared with the `bars` rows of the window: a bar is compared when
its bucket is `>= since` and `< until`. Every difference is listed: a bar missing in
the database, an extra one, a wrong value (expected / actual), or a bucket the log
has ticks for but the database holds a REST backfill bar.

Memory: the 1-second bars of every tick from `since` on, then the expected bars of the
window (every resolution, 1S included), about 300 bytes a bar: roughly 1 GB per 3
million bars. Narrow big checks
with `--symbols` and `--since/--until`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from candleflow.core.progress import Progress
from candleflow.core.settings import Settings
from candleflow.domain.bars import BAR_FIELDS, Bar, BarKey
from candleflow.domain.fold import TickFolder
from candleflow.domain.instants import iso
from candleflow.domain.resolution import SUPPORTED_CODES
from candleflow.functions.registry import FunctionSet, from_settings
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.log_reader import LogReader, Span
from candleflow.maintenance import verify_functions
from candleflow.store import verify_queries
from candleflow.store.connection import connect
from candleflow.store.sql import TICKS

#: The bar fields compared, in the order differences are listed.
FIELDS = BAR_FIELDS


@dataclass(frozen=True, slots=True)
class Window:
    """What is compared: these symbols (None = all) and buckets in `[since, until)`."""

    symbols: frozenset[str] | None = None
    since: int | None = None
    until: int | None = None

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError(f"--since {iso(self.since)} is not before --until {iso(self.until)}")

    def has_bucket(self, bucket: int) -> bool:
        return (self.since is None or bucket >= self.since) and (self.until is None or bucket < self.until)


@dataclass(frozen=True, slots=True)
class Difference:
    symbol: str
    resolution: str
    bucket: int
    kind: str  # missing | extra | wrong | rest
    field: str
    expected: str
    actual: str


def _value(bar: Bar, name: str) -> str:
    value = getattr(bar, name)
    return repr(value) if isinstance(value, float) else str(value)


def _summary(bar: Bar) -> str:
    return (
        f"o={bar.open!r} h={bar.high!r} l={bar.low!r} c={bar.close!r} v={bar.volume} n={bar.trades} "
        f"open@{bar.open_ts}/{bar.open_seq} close@{bar.close_ts}/{bar.close_seq}"
    )


def compare_bar(key: BarKey, expected: Bar, actual: Bar) -> list[Difference]:
    """One `wrong` difference per field that differs (volume compared as exact decimals)."""
    return [
        Difference(*key, "wrong", name, _value(expected, name), _value(actual, name))
        for name in FIELDS
        if getattr(expected, name) != getattr(actual, name)
    ]


def _order(difference: Difference) -> tuple[str, int, int, str]:
    rank = SUPPORTED_CODES.index(difference.resolution) if difference.resolution in SUPPORTED_CODES else 99
    return difference.symbol, rank, difference.bucket, difference.field


@dataclass
class Comparison:
    compared: int = 0
    #: indicator values and marks compared (`verify_functions`)
    functions: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


class Comparator:
    """Streams stored `(key, bar, source)` rows against the expected bars.

    `expected` is consumed (emptied). REST bars count only where the log has ticks for
    their bucket (a backfill bar the engine never replaced); elsewhere they are not the
    log's business.
    """

    def __init__(self, expected: dict[BarKey, Bar]) -> None:
        self.expected = expected
        self.result = Comparison()

    def feed(self, key: BarKey, bar: Bar, source: str) -> None:
        wanted = self.expected.pop(key, None)
        found = self.result.differences
        if source != TICKS:
            if wanted is not None:
                self.result.compared += 1
                found.append(Difference(*key, "rest", "source", _summary(wanted), f"rest: {_summary(bar)}"))
            return
        self.result.compared += 1
        if wanted is None:
            found.append(Difference(*key, "extra", "-", "-", _summary(bar)))
        else:
            found.extend(compare_bar(key, wanted, bar))

    def finish(self) -> Comparison:
        for key, wanted in self.expected.items():
            self.result.compared += 1
            self.result.differences.append(Difference(*key, "missing", "-", _summary(wanted), "-"))
        self.expected.clear()
        self.result.differences.sort(key=_order)
        return self.result


def compare(expected: dict[BarKey, Bar], stored: Iterable[tuple[BarKey, Bar, str]]) -> Comparison:
    """Compare stored `(key, bar, source)` rows with the expected bars (see `Comparator`)."""
    comparator = Comparator(expected)
    for key, bar, source in stored:
        comparator.feed(key, bar, source)
    return comparator.finish()


HEADER = ("symbol", "res", "bucket (UTC)", "difference", "field", "expected", "actual")


def render(comparison: Comparison) -> str:
    """A readable table of the differences (columns separated by two or more spaces)."""
    if comparison.ok:
        return f"no differences: {comparison.compared:,} bars match the tick log\n"
    rows = [HEADER] + [
        (d.symbol, d.resolution, iso(d.bucket), d.kind, d.field, d.expected, d.actual) for d in comparison.differences
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1] for row in rows
    ]
    kinds: dict[str, int] = {}
    bars: set[tuple[str, str, int]] = set()
    for d in comparison.differences:
        kinds[d.kind] = kinds.get(d.kind, 0) + 1
        bars.add((d.symbol, d.resolution, d.bucket))
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    lines.append(f"{len(bars)} bars differ ({counts}) among {comparison.compared:,} compared")
    return "\n".join(line.rstrip() for line in lines) + "\n"


@dataclass
class LogRead:
    """What reading the log found: the expected bars of the window and the bounds read."""

    folder: TickFolder
    expected: dict[BarKey, Bar]
    starts: dict[int, int] = field(default_factory=dict)  # partition -> first offset kept
    ends: dict[int, int] = field(default_factory=dict)  # partition -> end offset at start


def expected_bars(folder: TickFolder, window: Window) -> dict[BarKey, Bar]:
    """The folded bars whose bucket lies in the window (the folder already kept only the
    window's symbols and ticks from `since` on)."""
    return {key: bar for key, bar in folder.finish().items() if window.has_bucket(key[2])}


async def read_log(
    kafka: KafkaConfig, topic: str, window: Window, *, future_tolerance_s: float, progress_stream: TextIO | None = None
) -> LogRead:
    """Fold every record of `topic`, up to the end offsets at start, into the window's bars."""
    folder = TickFolder(symbols=window.symbols, since=window.since, future_tolerance_s=future_tolerance_s)
    async with LogReader(kafka, topic, max_records=20_000) as reader:
        starts, ends = await reader.bounds()
        spans = {p: Span(starts[p], ends[p]) for p in reader.partitions}
        progress = Progress.for_terminal(sum(s.size for s in spans.values()), unit="rec", stream=progress_stream)
        await reader.read(
            spans,
            lambda _partition, records: folder.add(records),
            None if progress is None else progress.advance_to,
        )
        if progress is not None:
            progress.finish()
    return LogRead(folder, expected_bars(folder, window), starts, ends)


async def compare_with_database(
    database_url: str, window: Window, expected: dict[BarKey, Bar], functions: FunctionSet | None = None
) -> Comparison:
    """The stored bars against `expected`; with `functions`, also every stored value and
    mark of those functions against a recompute of the stored bars (`verify_functions`)."""
    conn = await connect(database_url)
    try:
        symbols = sorted(window.symbols) if window.symbols is not None else None
        comparator = Comparator(expected)
        async with conn.transaction(readonly=True):
            async for key, bar, source in verify_queries.stored_bars(conn, symbols, window.since, window.until):
                comparator.feed(key, bar, source)
            comparison = comparator.finish()
            if functions is not None:
                # A series whose bars differ is reported by its bars; its functions are
                # checked once the bars are right (every value after a wrong bar differs).
                skip = {(d.symbol, d.resolution) for d in comparison.differences}
                comparison.functions, found = await verify_functions.check(
                    conn, functions, symbols, window.since, window.until, skip=skip
                )
                comparison.differences.extend(Difference(*row) for row in found)
                comparison.differences.sort(key=_order)
        return comparison
    finally:
        await conn.close()


async def engine_lag(database_url: str, consumer: str, topic: str, ends: dict[int, int]) -> dict[int, int]:
    """Records per partition the engine (`consumer`) has not absorbed yet."""
    conn = await connect(database_url)
    try:
        done = await verify_queries.ledger(conn, consumer, topic)
    finally:
        await conn.close()
    return {p: end - done.get(p, 0) for p, end in ends.items() if end > done.get(p, 0)}


def notes(read: LogRead, lag: dict[int, int], topic: str) -> list[str]:
    """Warnings that explain differences which are not the engine's fault."""
    folder = read.folder
    found = [f"read {folder.records:,} records of {topic}: {folder.valid:,} ticks, {folder.invalid:,} invalid"]
    trimmed = {p: start for p, start in read.starts.items() if start > 0}
    if trimmed:
        found.append(
            f"warning: partitions {sorted(trimmed)} no longer start at offset 0 (retention deleted older ticks): "
            "bars built from them cannot be checked; narrow the window with --since"
        )
    if lag:
        found.append(
            f"warning: the engine has not absorbed {sum(lag.values()):,} records yet (partitions {sorted(lag)}): "
            "their bars will show as missing or wrong until it catches up"
        )
    return found


async def verify(settings: Settings, window: Window, *, out: TextIO, err: TextIO) -> int:
    """Run the check; print the table on `out`, notes on `err`; 0 when equal, 1 when not."""
    read = await read_log(
        KafkaConfig.from_settings(settings),
        settings.ticks_topic,
        window,
        future_tolerance_s=settings.future_tolerance,
        progress_stream=err,
    )
    lag = await engine_lag(settings.database_url, settings.app_id, settings.ticks_topic, read.ends)
    functions = from_settings(settings)
    comparison = await compare_with_database(settings.database_url, window, read.expected, functions)
    for note in notes(read, lag, settings.ticks_topic):
        err.write(note + "\n")
    err.write(f"compared {comparison.functions:,} indicator values and marks with a recompute of the stored bars\n")
    out.write(render(comparison))
    return 0 if comparison.ok else 1
