"""Errors of access control; each message is safe to show to the client that caused it."""

from __future__ import annotations

from candleflow.domain.exceptions import CandleflowError


class AccessDenied(CandleflowError):
    """A request may not go on: no token, a bad one, or one that does not cover what it reads.

    `status` is the HTTP answer: 401 when the client must present (another) token, 403
    when its token is valid but does not allow this."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
