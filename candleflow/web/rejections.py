"""Refused requests and dropped clients, counted always and logged sparingly.

A client that sends thousands of bad requests must not be able to fill the log: each
kind of refusal (`bad request`, `unauthorized`, `rate limited`, `stream dropped: slow`,
...) is counted in `/metrics` (`candleflow_http_rejected_total{kind}`) on every
occurrence, and logged at most once per `interval` seconds: the first one at once, the
ones that follow in that interval as one line with their count when it ends. A line
names the kind, the route pattern (never the request's URL or query string, which may
carry an access token) and the last reason given to a client; never a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter

from candleflow.core.metrics import HTTP_REJECTED

log = logging.getLogger("candleflow.web.rejected")

#: Seconds between two log lines of one kind of refusal.
INTERVAL_S = 60.0
#: The longest reason a log line carries.
MAX_REASON = 160
#: Kinds of refusal by HTTP status, for answers that name no kind of their own.
KIND_OF_STATUS = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    429: "rate limited",
    503: "unavailable",
}


@dataclass
class _Held:
    """The occurrences of one kind since its last log line."""

    count: int = 0
    logged_at: float = float("-inf")
    where: str = ""
    reason: str = ""
    flush: asyncio.TimerHandle | None = None


class Rejections:
    """See the module docstring; `clock` is the seam for tests."""

    def __init__(self, interval: float = INTERVAL_S, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._held: dict[str, _Held] = {}

    def note(self, kind: str, where: str = "", reason: str = "", *, exc_info: BaseException | None = None) -> None:
        """One refusal of `kind` at route `where` (a pattern), told to the client as `reason`;
        `exc_info` (an unexpected error, not a refusal) is logged with its traceback when
        this occurrence is logged at once."""
        _counter(kind).inc()
        held = self._held.get(kind)
        if held is None:
            held = self._held[kind] = _Held()
        held.count += 1
        held.where, held.reason = where, " ".join(reason.split())[:MAX_REASON]
        now = self.clock()
        if now - held.logged_at >= self.interval:
            self._log(kind, held, now, exc_info)
        elif held.flush is None:
            held.flush = _call_later(held.logged_at + self.interval - now, lambda: self._flush(kind))

    def note_status(self, status: int, where: str, reason: str = "") -> None:
        """A refused request known by its status alone (a 4xx or a 503)."""
        self.note(KIND_OF_STATUS.get(status, f"http {status}"), where, reason)

    def _flush(self, kind: str) -> None:
        held = self._held[kind]
        held.flush = None
        if held.count:
            self._log(kind, held, self.clock())

    def _log(self, kind: str, held: _Held, now: float, exc_info: BaseException | None = None) -> None:
        since = "" if held.logged_at == float("-inf") else f" in the last {now - held.logged_at:.0f} s"
        last = ", ".join(part for part in (f"at {held.where}" if held.where else "", held.reason) if part)
        log.warning("%d refused (%s)%s%s", held.count, kind, since, f"; last {last}" if last else "", exc_info=exc_info)
        held.count = 0
        held.logged_at = now

    def close(self) -> None:
        """Log what is held and cancel the timers (the application's cleanup)."""
        for kind, held in self._held.items():
            if held.flush is not None:
                held.flush.cancel()
                held.flush = None
            if held.count:
                self._log(kind, held, self.clock())


def _call_later(delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle | None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no loop (a unit test): the next occurrence logs instead
        return None
    return loop.call_later(max(0.0, delay), callback)


@functools.cache
def _counter(kind: str) -> Counter:
    return HTTP_REJECTED.labels(kind)


class ServerLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger for a web port: a malformed HTTP request (a bad request
    line or header, one too long) is a refusal like any other, counted and logged
    sparingly without its traceback, instead of aiohttp's ERROR line with one per request."""

    def __init__(self, rejections: Rejections) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self.rejections = rejections

    def exception(self, msg: object, *args: object, exc_info: object = True, **kwargs: object) -> None:
        exc = exc_info if isinstance(exc_info, BaseException) else None
        self.rejections.note("malformed request", "", f"{type(exc).__name__}: {exc}" if exc else str(msg))
