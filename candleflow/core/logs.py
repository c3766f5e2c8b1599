"""Logging of every candleflow command at `CANDLEFLOW_LOG_LEVEL`, with nothing in it a
user must learn to ignore.

`candleflow <command>` configures the root logger before the command runs; the Faust
worker (`candleflow worker` or `faust -A candleflow.app worker`) sets up its own
logging, so the app hands it the same level through `worker_loglevel` unless
`-l/--loglevel` was given on its command line.

Client libraries log some routine events above their weight: aiokafka logs at ERROR
(or WARNING) a group coordinator still being elected on a fresh broker, or a partition
leader moving, all of which it retries by itself; mode (Faust's service library) logs at INFO that a
timer woke late whenever the loop was busy for a second. `quiet_libraries` demotes
exactly those messages to DEBUG, so every ERROR at the default level is a real error.
A retried condition that lasts longer than `PERSISTENT_S` is a real problem again and
comes back as a WARNING, once per `PERSISTENT_S`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Chatty client libraries log at WARNING at least, whatever the level.
QUIET = ("aiokafka", "kafka")
#: A retried condition reported for longer than this is shown again (as a WARNING).
PERSISTENT_S = 30.0


def _retriable(record: logging.LogRecord) -> bool:
    """The record's Kafka error (its last argument) is one aiokafka retries."""
    args = record.args if isinstance(record.args, tuple) else ()
    return bool(args) and bool(getattr(args[-1], "retriable", False))


@dataclass
class Demotion:
    """Records of `logger` whose unformatted message starts with `prefix` (and pass `when`)
    are logged at DEBUG; `transient` ones come back as a WARNING when they persist."""

    logger: str
    prefix: str
    when: Callable[[logging.LogRecord], bool] = lambda record: True
    transient: bool = False
    _streak: tuple[float, float] | None = field(default=None, init=False, repr=False)
    _warned_at: float = field(default=0.0, init=False, repr=False)

    def matches(self, record: logging.LogRecord) -> bool:
        return isinstance(record.msg, str) and record.msg.startswith(self.prefix) and self.when(record)

    def level(self, now: float) -> int:
        """DEBUG, or WARNING for a transient condition that has lasted `PERSISTENT_S`."""
        if not self.transient:
            return logging.DEBUG
        first, last = self._streak if self._streak is not None else (now, now)
        first = now if now - last > PERSISTENT_S else first
        self._streak = (first, now)
        if now - first >= PERSISTENT_S and now - self._warned_at >= PERSISTENT_S:
            self._warned_at = now
            return logging.WARNING
        return logging.DEBUG


def demotions() -> list[Demotion]:
    return [
        Demotion("aiokafka.consumer.group_coordinator", "Group Coordinator Request failed", _retriable, transient=True),
        Demotion("aiokafka.consumer.group_coordinator", "Marking the coordinator dead", transient=True),
        Demotion("aiokafka.consumer.fetcher", "Failed fetch offsets from", _retriable, transient=True),
        Demotion("aiokafka.producer.sender", "FindCoordinator Request failed", _retriable, transient=True),
        Demotion("mode.timers", "Timer %s woke up too"),
    ]


class _Demote(logging.Filter):
    def __init__(self, rules: Sequence[Demotion]) -> None:
        super().__init__()
        self.rules = rules

    def filter(self, record: logging.LogRecord) -> bool:
        for rule in self.rules:
            if rule.matches(record):
                level = rule.level(time.monotonic())
                if not logging.getLogger(record.name).isEnabledFor(level):
                    return False
                record.levelno, record.levelname = level, logging.getLevelName(level)
                return True
        return True


def quiet_libraries() -> None:
    """Install the demotions on their loggers (once per process; safe to call again)."""
    by_logger: dict[str, list[Demotion]] = {}
    for rule in demotions():
        by_logger.setdefault(rule.logger, []).append(rule)
    for name, rules in by_logger.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Demote) for f in logger.filters):
            logger.addFilter(_Demote(rules))


def configure(level: str) -> None:
    """Root logging to stderr at `level` (a name such as `INFO`)."""
    logging.basicConfig(level=level, stream=sys.stderr, format=FORMAT)
    logging.getLogger().setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    quiet_libraries()


@contextmanager
def silenced(name: str) -> Iterator[None]:
    """Logger `name` (and its children) says nothing inside the block, as it did before
    after it: for probes whose failures are expected, in a process that logs for real."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def loglevel_given(argv: Sequence[str]) -> bool:
    """True when a Faust command line sets `-l`/`--loglevel` itself."""
    return any(
        arg in ("-l", "--loglevel") or arg.startswith("--loglevel=") or (arg.startswith("-l") and arg[2:].isalpha())
        for arg in argv
    )


def worker_loglevel(cli_level: str | None, configured: str, argv: Sequence[str]) -> str:
    """The Faust worker's level: the command line's when given, else `configured`."""
    if cli_level and loglevel_given(argv):
        return cli_level
    return configured
