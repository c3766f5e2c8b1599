"""An in-memory `TickSink` for source tests: it keeps what a source would publish."""

from __future__ import annotations

import asyncio

from candleflow.domain.ticks import Tick


class CollectingSink:
    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.rejected: list[tuple[str, str]] = []
        self.changed = asyncio.Event()

    async def publish(self, tick: Tick) -> None:
        self.ticks.append(tick)
        self.changed.set()

    async def reject(self, raw: bytes | str, reason: str) -> None:
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        self.rejected.append((text, reason))
        self.changed.set()
