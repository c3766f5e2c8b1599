"""Replay a file of ticks: NDJSON or CSV, optionally gzip-compressed, streamed line by line.

NDJSON holds one tick object per line, the wire format of `ticks.raw`::

    {"symbol": "Coinbase:BTC/USD", "ts": 1732406400123, "price": 97000.5, "qty": 0.0123, "side": "buy", "id": "81234"}

CSV has the same columns, `symbol,ts,price,qty,side,id` (`side` and `id` may be empty
or left out); a first line naming the columns is a header, not a tick, and may order
them differently. Every line is checked with `validate_tick`: a valid tick goes to
`ticks.raw`, anything else (bad JSON, wrong field count, impossible values, an empty
line) goes to `ticks.dead` with the reason and the raw line. Memory stays constant
whatever the file's size. `speed` replays N times faster than the ticks' own pacing;
`None` sends as fast as the broker takes them.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from candleflow.core.progress import Progress
from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.ticks import Tick, parse_tick, validate_tick
from candleflow.sources.exceptions import ReplayFileError
from candleflow.sources.publisher import TickSink

COLUMNS = ("symbol", "ts", "price", "qty", "side", "id")
REQUIRED = COLUMNS[:4]
FORMATS = ("auto", "ndjson", "csv")

#: Dead letters keep at most this much of a line (a runaway line must not block the topic).
MAX_RAW = 64 * 1024

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What a replay read: lines, how many were valid ticks, how many went dead."""

    lines: int
    valid: int
    invalid: int
    seconds: float
    stopped: bool = False


# ------------------------------------------------------------------------ opening


def detect_format(path: Path) -> str:
    """`csv` for `*.csv[.gz]`, `ndjson` for everything else."""
    name = path.name.lower().removesuffix(".gz")
    return "csv" if name.endswith(".csv") else "ndjson"


@contextmanager
def open_lines(path: Path) -> Iterator[tuple[IO[bytes], Callable[[], int]]]:
    """Open a replay file (gzip recognised by its magic bytes) as binary lines.

    Yields the line stream and a function giving the bytes of the file read so far.
    """
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise ReplayFileError(f"cannot open replay file {str(path)!r}: {exc.strerror}") from None
    try:
        magic = raw.peek(2)[:2]
        if magic == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                yield stream, raw.tell  # type: ignore[misc]
        else:
            yield raw, raw.tell
    finally:
        raw.close()


# ------------------------------------------------------------------------ parsing


def parse_ndjson_line(line: bytes, *, now_ms: int | None = None, future_tolerance_s: float = 300.0) -> Tick:
    """One NDJSON line -> `Tick`, or `InvalidTick` with the reason."""
    if not line.strip():
        raise InvalidTick("empty line")
    return parse_tick(line, now_ms=now_ms, future_tolerance_s=future_tolerance_s)


def _csv_value(column: str, text: str) -> Any:
    if column in ("side", "id"):
        return text or None
    if column == "ts":
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text
    return text or None


class CsvLayout:
    """Column order of a CSV replay file: the header's, or `symbol,ts,price,qty,side,id`."""

    def __init__(self, columns: tuple[str, ...] = COLUMNS) -> None:
        self.columns = columns

    @staticmethod
    def header(line: bytes) -> CsvLayout | None:
        """A `CsvLayout` when `line` names the columns, else None (the line is a tick)."""
        fields = tuple(f.strip().lower() for f in _csv_fields(line))
        if "symbol" not in fields:
            return None
        unknown = [f for f in fields if f not in COLUMNS]
        missing = [c for c in REQUIRED if c not in fields]
        if unknown or missing or len(set(fields)) != len(fields):
            raise ReplayFileError(
                f"CSV header {line.decode('utf-8', 'replace').strip()!r} must name the columns "
                f"{','.join(COLUMNS)} (side and id optional), each once"
            )
        return CsvLayout(fields)

    def parse(self, line: bytes, *, now_ms: int | None = None, future_tolerance_s: float = 300.0) -> Tick:
        """One CSV line -> `Tick`, or `InvalidTick` with the reason."""
        if not line.strip():
            raise InvalidTick("empty line")
        try:
            fields = _csv_fields(line)
        except UnicodeDecodeError:
            raise InvalidTick("CSV line is not UTF-8") from None
        except csv.Error as exc:
            raise InvalidTick(f"not CSV: {exc}") from None
        expected = len(self.columns)
        minimum = 4 if self.columns == COLUMNS else expected
        if not minimum <= len(fields) <= expected:
            raise InvalidTick(f"CSV line has {len(fields)} fields, expected {expected} ({','.join(self.columns)})")
        record = {column: _csv_value(column, text.strip()) for column, text in zip(self.columns, fields, strict=False)}
        return validate_tick(record, now_ms=now_ms, future_tolerance_s=future_tolerance_s)


def _csv_fields(line: bytes) -> list[str]:
    text = line.decode("utf-8").rstrip("\r\n")
    return next(csv.reader([text]), [])


# ------------------------------------------------------------------------- pacing


class Pacer:
    """Holds ticks back so that tick time advances `speed` times faster than wall time."""

    def __init__(
        self,
        speed: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.speed = speed
        self._clock = clock
        self._sleep = sleep
        self._first_ts: int | None = None
        self._latest_ts = 0
        self._start = 0.0

    async def wait(self, ts: int) -> None:
        if self._first_ts is None:
            self._first_ts, self._latest_ts, self._start = ts, ts, self._clock()
            return
        if ts <= self._latest_ts:  # out-of-order or same instant: no waiting
            return
        self._latest_ts = ts
        due = self._start + (ts - self._first_ts) / 1000 / self.speed
        delay = due - self._clock()
        if delay > 0.001:
            await self._sleep(delay)


def parse_speed(text: str) -> float | None:
    """`max` -> None (no pacing); a positive number -> that speed factor."""
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        raise ValueError(f"speed must be a positive number or 'max', got {text!r}") from None
    if not speed > 0 or speed == float("inf"):
        raise ValueError(f"speed must be a positive number or 'max', got {text!r}")
    return speed


# ------------------------------------------------------------------------- replay


def _clip(line: bytes) -> tuple[bytes, str]:
    line = line.rstrip(b"\r\n")
    if len(line) > MAX_RAW:
        return line[:MAX_RAW], f" (line of {len(line)} bytes, first {MAX_RAW} kept)"
    return line, ""


async def replay_file(
    path: Path,
    sink: TickSink,
    *,
    speed: float | None = None,
    fmt: str = "auto",
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
    future_tolerance_s: float = 300.0,
    pacer: Pacer | None = None,
) -> ReplayReport:
    """Publish every line of `path` through `sink`: valid ticks, or dead letters with reasons."""
    if fmt not in FORMATS:
        raise ReplayFileError(f"unknown replay format {fmt!r}: use one of {', '.join(FORMATS)}")
    kind = detect_format(path) if fmt == "auto" else fmt
    if speed is not None and pacer is None:
        pacer = Pacer(speed)
    started = time.monotonic()
    lines = valid = invalid = 0
    stopped = False
    with open_lines(path) as (stream, position):
        layout: CsvLayout | None = None
        lines_in: Iterable[bytes] = stream
        if kind == "csv":
            first = stream.readline()
            layout = CsvLayout.header(first) if first else None
            if layout is None:
                layout = CsvLayout()
                lines_in = _Chained(first, stream)  # the first line is a tick
        for line in lines_in:
            lines += 1
            try:
                if layout is None:
                    tick = parse_ndjson_line(line, future_tolerance_s=future_tolerance_s)
                else:
                    tick = layout.parse(line, future_tolerance_s=future_tolerance_s)
            except InvalidTick as exc:
                raw, note = _clip(line)
                await sink.reject(raw, f"{exc}{note}")
                invalid += 1
            else:
                if pacer is not None:
                    await pacer.wait(tick.ts)
                await sink.publish(tick)
                valid += 1
            if lines & 0x3FF == 0:
                await asyncio.sleep(0)  # let the producer and the linger task run
                if progress is not None:
                    progress.advance_to(position(), lines=lines)
                if stop is not None and stop.is_set():
                    stopped = True
                    break
    if progress is not None:
        progress.finish()
    return ReplayReport(lines, valid, invalid, time.monotonic() - started, stopped)


class _Chained:
    """A binary line stream with one line pushed back in front."""

    def __init__(self, first: bytes, rest: IO[bytes]) -> None:
        self._first: bytes | None = first or None
        self._rest = rest

    def __iter__(self) -> Iterator[bytes]:
        if self._first is not None:
            yield self._first
            self._first = None
        yield from self._rest


def ndjson_line(tick: Tick) -> bytes:
    """The NDJSON line of a tick (what `candleflow ingest replay` reads back)."""
    return tick.to_json() + b"\n"


__all__ = [
    "COLUMNS",
    "CsvLayout",
    "Pacer",
    "ReplayReport",
    "detect_format",
    "ndjson_line",
    "open_lines",
    "parse_ndjson_line",
    "parse_speed",
    "replay_file",
]
