"""`candleflow db verify`: the stored bars against a fresh aggregation of the tick log.

The whole ticks topic is read with a bare consumer (no group, every partition from its
first offset to the end offset seen at start); each record goes through `parse_tick`
(invalid ones are skipped: the engine dead-letters them) and is aggregated with
`candleflow.bars.aggregate` with `seq` = its offset — exactly what the engine does.
The result is compared with the `bars` rows of the window: a bar is compared when
its bucket is `>= since` and `< until`. Every difference is listed: a bar missing in
the database, an extra one, a wrong value (expected / actual), or a bucket the log
has ticks for but the database holds a REST backfill bar.

Memory: the expected bars of the window are kept in one dict (every resolution, 1S
included), about 300 bytes a bar: roughly 1 GB per 3 million bars. Narrow big checks
with `--symbols` and `--since/--until`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from candleflow import verify_functions
from candleflow.bars import Bar, BarKey, aggregate
from candleflow.exceptions import CandleflowError, InvalidTick
from candleflow.functions.registry import FunctionSet, from_settings
from candleflow.resolution import SUPPORTED_CODES
from candleflow.settings import Settings
from candleflow.sources.progress import Progress
from candleflow.store import verify_queries
from candleflow.store.pool import connect
from candleflow.ticks import EARLIEST_MS, parse_tick

#: The bar fields compared, in the order differences are listed.
FIELDS = ("open", "high", "low", "close", "volume", "trades", "open_ts", "open_seq", "close_ts", "close_seq")
#: Give up when the broker hands out nothing for this long while records remain.
STALL_S = 60.0


class VerifyError(CandleflowError):
    """`db verify` cannot run (Kafka or the topic unreachable); the message says why."""


def parse_instant(text: str) -> int:
    """Milliseconds since the epoch from `1732406400000` or ISO 8601 (`2024-11-24`,
    `2024-11-24T00:00:00Z`; no zone means UTC). Raises ValueError saying what is expected."""
    value = text.strip()
    if re.fullmatch(r"-?\d+", value):
        ms = int(value)
        if ms < EARLIEST_MS:
            raise ValueError(
                f"{text!r} is before 2009 as milliseconds since the epoch (seconds? multiply by 1000) "
                "— give milliseconds or an ISO date such as 2024-11-24T00:00:00Z"
            )
        return ms
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither milliseconds since the epoch nor an ISO 8601 time such as 2024-11-24T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{ms % 1000:03d}Z" if ms % 1000 else f"{text}Z"


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
        if source != "ticks":
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


class LogAggregator:
    """Folds batches of `(offset, raw value)` into the expected bars of a window."""

    def __init__(self, window: Window, *, future_tolerance_s: float = 300.0) -> None:
        self.window = window
        self.future_tolerance_s = future_tolerance_s
        self.bars: dict[BarKey, Bar] = {}
        self.valid = 0
        self.invalid = 0

    def add(self, records: Iterable[tuple[int, bytes]], now_ms: int | None = None) -> None:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        symbols, since = self.window.symbols, self.window.since
        rows: list[tuple[str, int, float, float, int]] = []
        for offset, value in records:
            try:
                tick = parse_tick(value, now_ms=now, future_tolerance_s=self.future_tolerance_s)
            except InvalidTick:
                self.invalid += 1
                continue
            self.valid += 1
            if symbols is not None and tick.symbol not in symbols:
                continue
            if since is not None and tick.ts < since:
                continue  # every bucket of this tick starts before `since`
            rows.append((tick.symbol, tick.ts, tick.price, tick.qty, offset))
        if not rows:
            return
        bars = self.bars
        for key, delta in aggregate(rows).items():
            if not self.window.has_bucket(key[2]):
                continue
            existing = bars.get(key)
            if existing is None:
                bars[key] = delta
            else:
                existing.merge(delta)


@dataclass
class LogRead:
    records: int = 0
    starts: dict[int, int] = field(default_factory=dict)  # partition -> first offset kept
    ends: dict[int, int] = field(default_factory=dict)  # partition -> end offset at start


async def topic_partitions(bootstrap: str, topic: str) -> list[int]:
    """The topic's partition numbers, from a metadata request that never creates it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"] != 0 or not described["partitions"]:
        raise VerifyError(f"topic {topic!r} does not exist on {bootstrap}: check CANDLEFLOW_TICKS_TOPIC")
    return sorted(p["partition"] for p in described["partitions"])


async def read_log(
    bootstrap: str,
    topic: str,
    aggregator: LogAggregator,
    *,
    progress: Progress | None = None,
    max_records: int = 20_000,
) -> LogRead:
    """Feed every record of `topic` (up to the end offsets at start) to `aggregator`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        await consumer.start()
    except KafkaError as exc:
        await consumer.stop()
        raise VerifyError(
            f"cannot reach Kafka at {bootstrap} ({type(exc).__name__}: {exc}): start it "
            '(eval "$(candleflow stack up)") or set CANDLEFLOW_KAFKA_BOOTSTRAP'
        ) from exc
    try:
        partitions = [TopicPartition(topic, p) for p in await topic_partitions(bootstrap, topic)]
        consumer.assign(partitions)
        begins = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        result = LogRead(
            starts={tp.partition: begins[tp] for tp in partitions}, ends={tp.partition: ends[tp] for tp in partitions}
        )
        for tp in partitions:
            consumer.seek(tp, begins[tp])
        remaining = {tp for tp in partitions if ends[tp] > begins[tp]}
        total = sum(ends[tp] - begins[tp] for tp in partitions)
        if progress is not None:
            progress.total = total
            progress.start()
        last_progress = time.monotonic()
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=max_records)
            for tp, messages in batch.items():
                kept = [(m.offset, m.value) for m in messages if m.offset < ends[tp] and m.value is not None]
                aggregator.add(kept)
                result.records += len(kept)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
                    consumer.pause(tp)
            if batch:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > STALL_S:
                raise VerifyError(
                    f"{topic}: no records for {STALL_S:.0f} s with {len(remaining)} partitions unfinished "
                    "(broker overloaded or partitions offline?): try again"
                )
            if progress is not None:
                progress.update(result.records, result.records)
        if progress is not None:
            progress.finish(result.records)
        return result
    finally:
        await consumer.stop()


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


def notes(read: LogRead, lag: dict[int, int], topic: str, aggregator: LogAggregator) -> list[str]:
    """Warnings that explain differences which are not the engine's fault."""
    found = [f"read {read.records:,} records of {topic}: {aggregator.valid:,} ticks, {aggregator.invalid:,} invalid"]
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
    aggregator = LogAggregator(window, future_tolerance_s=settings.future_tolerance)
    progress = Progress.for_terminal(0, stream=err)
    read = await read_log(settings.kafka_bootstrap, settings.ticks_topic, aggregator, progress=progress)
    lag = await engine_lag(settings.database_url, settings.app_id, settings.ticks_topic, read.ends)
    functions = from_settings(settings)
    comparison = await compare_with_database(settings.database_url, window, aggregator.bars, functions)
    for note in notes(read, lag, settings.ticks_topic, aggregator):
        err.write(note + "\n")
    err.write(f"compared {comparison.functions:,} indicator values and marks with a recompute of the stored bars\n")
    out.write(render(comparison))
    return 0 if comparison.ok else 1


def run(settings: Settings, window: Window, *, out: TextIO, err: TextIO) -> int:
    return asyncio.run(verify(settings, window, out=out, err=err))


def symbols_option(value: str | None) -> frozenset[str] | None:
    """`A,B` -> the symbols, each checked; None -> every symbol."""
    from candleflow.symbols import parse_symbol

    if value is None:
        return None
    names: Sequence[str] = [s.strip() for s in value.split(",") if s.strip()]
    if not names:
        raise ValueError("give at least one symbol, e.g. Coinbase:BTC/USD")
    for name in names:
        parse_symbol(name)
    return frozenset(names)
