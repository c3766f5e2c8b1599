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
import inspect
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar, overload

T = TypeVar("T")

INTERVAL = 0.05


class _Attempts:
    """The attempts of one wait: their count is bounded by the deadline."""

    def __init__(self, timeout: float, what: str | None) -> None:
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.what = what
        self.last: object = None

    def __iter__(self) -> Iterator[int]:
        attempt = 0
        while True:
            yield attempt
            attempt += 1
            if time.monotonic() > self.deadline:
                raise AssertionError(
                    f"not within {self.timeout:g} s: {self.what or 'the condition'} (last: {self.last!r})"[:4000]
                )


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
    attempts = _Attempts(timeout, what)
    for _ in attempts:
        try:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
        except ignoring as exc:
            attempts.last = exc
        else:
            if value:
                return value
            attempts.last = value
        await asyncio.sleep(interval)
    raise AssertionError("unreachable")  # pragma: no cover


def eventually_sync(
    condition: Callable[[], T | None],
    timeout: float = 30.0,
    *,
    interval: float = INTERVAL,
    what: str | None = None,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """`eventually` without an event loop: `condition` is a plain function."""
    attempts = _Attempts(timeout, what)
    for _ in attempts:
        try:
            value = condition()
        except ignoring as exc:
            attempts.last = exc
        else:
            if value:
                return value
            attempts.last = value
        time.sleep(interval)
    raise AssertionError("unreachable")  # pragma: no cover
