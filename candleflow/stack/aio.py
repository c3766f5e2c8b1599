"""Run a coroutine to completion from blocking code, even inside a running event loop.

The stack's API is blocking (it is called from the CLI, fixtures and async tests
alike); inside a running loop `asyncio.run` is not allowed, so the coroutine then runs
on a short-lived thread of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`asyncio.run(factory())`, on another thread when this one already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="candleflow-stack") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()
