"""Errors of the local stack launcher; each message says what to do next."""

from __future__ import annotations

from candleflow.domain.exceptions import CandleflowError


class StackError(CandleflowError):
    """The local Kafka + PostgreSQL stack cannot start, stop or be reached."""


class MissingTool(StackError):
    """A program the stack needs (java, mvn, PostgreSQL binaries) is not installed."""


class PortBusy(StackError):
    """A port the stack was told to use is taken by another program."""
