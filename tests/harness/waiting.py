"""Tests wait on conditions, never on the clock: `eventually(condition, timeout)`.

`condition` is called (and awaited, when it returns an awaitable) until it returns a
truthy value, which `eventually` returns; between attempts it sleeps `interval`. After
`timeout` seconds it raises `AssertionError` naming `what` it waited for and the last
value (or the last exception, for the exception types `ignoring` lets it retry). The
timeout is a bound for a broken system, never a measure of a working one: make it
generous, it costs nothing when the condition holds early.

`eventually_sync` is the same for the few tests that run no event loop (subprocess
workers, the browser driver).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar, overload

T = TypeVar("T")

INTERVAL = 0.05


class _Wait:
    """The attempts of one wait, bounded by its deadline: `attempt()` wraps each one."""

    def __init__(self, timeout: float, what: str | None, ignoring: tuple[type[BaseException], ...]) -> None:
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.what = what
        self.ignoring = ignoring
        self.last: object = None

    @contextlib.contextmanager
    def attempt(self) -> Iterator[None]:
        """One attempt: an exception of `ignoring` counts as a falsy answer; past the
        deadline the wait fails, naming what it waited for and the last answer."""
        try:
            yield
        except self.ignoring as exc:
            self.last = exc
        if time.monotonic() > self.deadline:
            raise AssertionError(
                f"not within {self.timeout:g} s: {self.what or 'the condition'} (last: {self.last!r})"[:4000]
            )

    def holds(self, value: object) -> bool:
        if not value:
            self.last = value
        return bool(value)


@overload
async def eventually(
    condition: Callable[[], Awaitable[T | None]],
    timeout: float = 30.0,  # noqa: ASYNC109
    *,
    interval: float = INTERVAL,
    what: str | None = None,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T: ...


@overload
async def eventually(
    condition: Callable[[], T | None],
    timeout: float = 30.0,  # noqa: ASYNC109
    *,
    interval: float = INTERVAL,
    what: str | None = None,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T: ...


async def eventually(
    condition: Callable[[], object],
    timeout: float = 30.0,  # noqa: ASYNC109 (a bound over many attempts, reported on failure)
    *,
    interval: float = INTERVAL,
    what: str | None = None,
    ignoring: tuple[type[BaseException], ...] = (),
) -> object:
    """The first truthy value of `condition()` (see the module docstring)."""
    wait = _Wait(timeout, what, ignoring)
    while True:
        with wait.attempt():
            value = condition()
            if inspect.isawaitable(value):
                value = await value
            if wait.holds(value):
                return value
        await asyncio.sleep(interval)


def eventually_sync(
    condition: Callable[[], T | None],
    timeout: float = 30.0,
    *,
    interval: float = INTERVAL,
    what: str | None = None,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """`eventually` without an event loop: `condition` is a plain function."""
    wait = _Wait(timeout, what, ignoring)
    while True:
        with wait.attempt():
            value = condition()
            if value:
                return value
            wait.holds(value)
        time.sleep(interval)
