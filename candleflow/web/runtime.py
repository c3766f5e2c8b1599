"""Where the web views find this process's worker: its engine status and its SSE hub.

The worker (`candleflow.worker.Worker`) builds and owns both; `candleflow.agents` hands
it to the web application's `Runtime` (`attach`) once it is open and takes it back when
it stops. A web-only process (`candleflow.web.tier.WebTier`) attaches its hub with no
engine status. Until then `/healthz` reports the engine as starting and a stream waits for
it (bounded, then 503), so a view never reaches for a half-built worker and a chart
opened while the worker starts still gets its stream.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from candleflow.core.engine_status import EngineStatus
from candleflow.web.errors import unavailable
from candleflow.web.hub import Hub


class Live(Protocol):
    """What the views read from a running worker."""

    @property
    def status(self) -> EngineStatus | None:
        """None in a process that runs no engine."""
        ...

    @property
    def hub(self) -> Hub: ...


@dataclass
class Runtime:
    worker: Live | None = None
    attached: asyncio.Event = field(default_factory=asyncio.Event)
    #: Why the worker's engine task ended, when it ended by an error (`/livez` fails then).
    ended: str | None = None

    def attach(self, worker: Live) -> None:
        self.worker = worker
        self.attached.set()

    def detach(self) -> None:
        self.worker = None
        self.attached.clear()

    async def wait(self, within: float) -> Live | None:
        """The worker, waiting up to `within` seconds for one that is still starting."""
        if self.worker is None:
            try:
                async with asyncio.timeout(within):
                    await self.attached.wait()
            except TimeoutError:
                return None
        return self.worker

    def hub(self) -> Hub:
        """The hub of the attached worker (503 while the worker starts)."""
        return _hub(self.worker)

    async def started_hub(self, within: float) -> Hub:
        """The hub of the worker, once it has started (503 after `within` seconds)."""
        return _hub(await self.wait(within))


def _hub(worker: Live | None) -> Hub:
    if worker is None:
        raise unavailable("the bar engine (starting)", 2)
    return worker.hub
