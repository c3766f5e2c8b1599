"""Progress of a long command on a terminal (`ingest replay`, `db verify`, `replay`,
`backfill`), drawn by tqdm: fraction done, rate and ETA on one line of stderr (or, when
the total is not known, the count, the rate and what is being done), nothing when it is
no terminal (logs and pipes stay clean)."""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm


class Progress:
    """`done` of `total` in `unit`s (bytes of a file, records of a topic; None: unknown)."""

    def __init__(self, total: int | None, *, unit: str, stream: TextIO, interval: float = 0.5) -> None:
        self._bar = tqdm(total=total, unit=unit, unit_scale=True, file=stream, mininterval=interval, dynamic_ncols=True)

    @classmethod
    def for_terminal(cls, total: int | None, *, unit: str, stream: TextIO | None = None) -> Progress | None:
        """A `Progress` when `stream` (stderr by default) is a terminal, else None."""
        stream = stream if stream is not None else sys.stderr
        return cls(total, unit=unit, stream=stream) if stream.isatty() else None

    def advance_to(self, done: int, **counts: int) -> None:
        """`done` units so far; `counts` (e.g. `lines=`) are shown after the bar."""
        if counts:
            self._bar.set_postfix({name: f"{n:,}" for name, n in counts.items()}, refresh=False)
        self._bar.update(done - self._bar.n)

    def step(self, doing: str) -> None:
        """One more unit done, and what is being done now (shown before the count)."""
        self._bar.set_description_str(doing, refresh=False)
        self._bar.update(1)

    def finish(self) -> None:
        self._bar.close()
