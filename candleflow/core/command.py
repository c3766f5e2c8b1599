"""How every `candleflow` command runs: the same settings, logging, signals, progress
and exit codes whatever the subcommand.

A command's click function hands its work to `run`: `run(main)` reads the settings
(a bad one is a message and exit 2), sets up logging at `CANDLEFLOW_LOG_LEVEL`, runs
`main(Invocation)` (a coroutine function on an event loop, or a plain function), and
ends the process with the exit code of what happened (`EXIT_CODES`, in the README):

| code | meaning |
|---|---|
| 0 | done |
| 1 | the command ran and failed, or found what it checks for (`db verify`: differences) |
| 2 | the command line or the configuration is wrong (the message says what to fix) |
| 3 | Kafka or PostgreSQL cannot be reached, or refuses the login |
| 130 | interrupted (Ctrl-C, SIGTERM) |

A candleflow error's code follows its kind (`candleflow.domain.exceptions`):
`ConfigError` 2, `Unavailable` 3, any other `CandleflowError` 1; its message is printed,
never a traceback. Anything else is a bug and keeps Python's traceback.

Signals. The first Ctrl-C (or SIGTERM) sets `Invocation.stop`: a command that watches it
(`graceful=True`: an ingest flushes what it read) ends on its own; any other is cancelled
at once. A second signal always cancels. A cancelled command prints its `interrupted`
line (what state it leaves, what to do next) and exits 130.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn, TextIO, cast

from candleflow.core import event_loop as loops
from candleflow.core.logs import configure
from candleflow.core.progress import Progress
from candleflow.core.settings import Settings
from candleflow.domain.exceptions import CandleflowError, ConfigError, Unavailable

OK = 0
FAILED = 1
USAGE = 2
UNAVAILABLE = 3
INTERRUPTED = 130

#: (exit code, meaning) of every candleflow command: the README's table.
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (OK, "done"),
    (FAILED, "the command ran and failed, or found what it checks for (`db verify`: differences)"),
    (USAGE, "the command line or the configuration is wrong (the message says what to fix)"),
    (UNAVAILABLE, "Kafka or PostgreSQL cannot be reached, or refuses the login"),
    (INTERRUPTED, "interrupted (Ctrl-C, SIGTERM)"),
)

#: Exit code of each kind of candleflow error, most specific first.
ERROR_CODES: tuple[tuple[type[CandleflowError], int], ...] = (
    (ConfigError, USAGE),
    (Unavailable, UNAVAILABLE),
    (CandleflowError, FAILED),
)

#: What a command's `main` returns: its exit code (None: 0).
Outcome = int | None


def exit_code(error: CandleflowError) -> int:
    """The exit code of `error` (see `ERROR_CODES`)."""
    return next(code for kind, code in ERROR_CODES if isinstance(error, kind))


@dataclass
class Invocation:
    """What a command's `main` gets: the settings, the stop request, progress lines."""

    settings: Settings
    #: Set by the first Ctrl-C or SIGTERM (see the module docstring).
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def progress(self, total: int | None, *, unit: str) -> Progress | None:
        """A progress line on stderr when it is a terminal (else None: logs stay clean)."""
        return Progress.for_terminal(total, unit=unit, stream=self.err)


AsyncMain = Callable[[Invocation], Awaitable[Outcome]]
SyncMain = Callable[[Invocation], Outcome]
Main = AsyncMain | SyncMain


def run(
    main: Main,
    *,
    graceful: bool = False,
    interrupted: str = "interrupted",
    name: str = "candleflow",
    event_loop: bool = False,
) -> NoReturn:
    """Run `main` as a command (see the module docstring) and exit with its code."""
    sys.exit(outcome(main, graceful=graceful, interrupted=interrupted, name=name, event_loop=event_loop))


def outcome(
    main: Main,
    *,
    graceful: bool = False,
    interrupted: str = "interrupted",
    name: str = "candleflow",
    event_loop: bool = False,
) -> int:
    """The exit code of running `main` as a command, its messages written to stderr;
    `event_loop`: on the worker's event loop (`CANDLEFLOW_EVENT_LOOP`), for a server."""
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return USAGE
    configure(settings.log_level)
    if event_loop:
        loops.install(settings.event_loop)
    invocation = Invocation(settings)
    try:
        if inspect.iscoroutinefunction(main):
            result = asyncio.run(_supervised(cast(AsyncMain, main), invocation, graceful))
        else:
            result = cast(SyncMain, main)(invocation)
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(f"\n{name}: {interrupted}", file=sys.stderr)
        return INTERRUPTED
    except CandleflowError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return exit_code(exc)
    return OK if result is None else result


async def _supervised(main: AsyncMain, invocation: Invocation, graceful: bool) -> Outcome:
    """`main` as a task, cancelled by the signals as the module docstring says."""
    task = asyncio.ensure_future(main(invocation))
    with _signals(lambda: _on_signal(task, invocation.stop, graceful)):
        result = await task
    return result


def _on_signal(task: asyncio.Future[Any], stop: asyncio.Event, graceful: bool) -> None:
    if graceful and not stop.is_set():
        stop.set()
        return
    stop.set()
    task.cancel()


@contextlib.contextmanager
def _signals(handler: Callable[[], None]) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, handler)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
