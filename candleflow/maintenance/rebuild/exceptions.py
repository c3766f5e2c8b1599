"""Errors of `candleflow replay`."""

from candleflow.domain.exceptions import CandleflowError


class RebuildError(CandleflowError):
    """The rebuild cannot run as asked; the message says what to do instead."""
