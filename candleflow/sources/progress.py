"""A one-line progress display for long replays: ticks/s and ETA, on a terminal only."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Redraws `done/total  N lines  R lines/s  ETA m:ss` at most every `interval` seconds.

    `total` and `done` are in bytes of the input file (compressed bytes for gzip), so
    the ETA needs no first pass over the file.
    """

    def __init__(
        self,
        total_bytes: int,
        *,
        stream: TextIO | None = None,
        interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total_bytes
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self._clock = clock
        self._started = 0.0
        self._last_draw = 0.0
        self._drawn = False

    @classmethod
    def for_terminal(cls, total_bytes: int, stream: TextIO | None = None) -> Progress | None:
        """A `Progress` when `stream` (stderr by default) is a terminal, else None."""
        stream = stream if stream is not None else sys.stderr
        return cls(total_bytes, stream=stream) if stream.isatty() else None

    def start(self) -> None:
        self._started = self._last_draw = self._clock()

    def line(self, done_bytes: int, lines: int) -> str:
        elapsed = max(self._clock() - self._started, 1e-9)
        rate = lines / elapsed
        fraction = min(done_bytes / self.total, 1.0) if self.total else 0.0
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else 0.0
        return f"{fraction:6.1%}  {lines:,} lines  {rate:,.0f} ticks/s  ETA {_duration(eta)}"

    def update(self, done_bytes: int, lines: int) -> None:
        now = self._clock()
        if now - self._last_draw < self.interval:
            return
        self._last_draw = now
        self.stream.write("\r" + self.line(done_bytes, lines).ljust(70))
        self.stream.flush()
        self._drawn = True

    def finish(self, lines: int) -> None:
        if self._drawn:
            self.stream.write("\r" + self.line(self.total, lines).ljust(70) + "\n")
            self.stream.flush()
