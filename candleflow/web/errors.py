"""The one error type web views raise on purpose: a status code and a UDF `errmsg`.

Views raise `UdfError` for anything a client did wrong (4xx) or the service cannot do
right now (503); the middleware turns it into `{"s": "error", "errmsg": ...}`.
"""

from __future__ import annotations

from collections.abc import Mapping


class UdfError(Exception):
    """An answer `{"s": "error", "errmsg": message}` with `status`."""

    def __init__(self, message: str, status: int = 400, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.headers: dict[str, str] = dict(headers or {})


def unavailable(what: str, retry_after: int = 5) -> UdfError:
    """A 503 saying which dependency is down, with `Retry-After`."""
    return UdfError(f"{what} unavailable, retry later", 503, {"Retry-After": str(retry_after)})


def too_many(what: str, cap: int, resolution: str, *, countback_helps: bool = True) -> UdfError:
    """The range holds more than `cap` `what`s: the one refusal a range can get (400)."""
    advice = "use countback or a narrower range" if countback_helps else "ask for a narrower range"
    return UdfError(f"the range holds more than {cap} {what} of resolution {resolution}: {advice}")
