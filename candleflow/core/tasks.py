"""Ending a background task the way every long-lived object of candleflow does on close."""

from __future__ import annotations

import asyncio
import contextlib


async def cancel_and_wait(task: asyncio.Task[object] | asyncio.Future[object] | None) -> None:
    """Cancel `task` (None or done: nothing to cancel) and wait until it has ended; its own
    error, if it ended by one, is raised, its cancellation is not."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
