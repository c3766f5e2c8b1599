"""Errors of the tick sources, each with a message that says what to do next."""

from __future__ import annotations

from candleflow.domain.exceptions import CandleflowError, Unavailable


class SourceError(CandleflowError):
    """A tick source cannot go on."""


class ProtocolError(SourceError):
    """A streamer frame is not a JSON object with a TYPE."""


class Unauthorized(SourceError):
    """The CryptoCompare streamer refused the API key."""


class PublishError(SourceError):
    """The broker refused or lost records; the message says how many and why."""


class BrokerUnavailable(PublishError, Unavailable):
    """The publisher cannot reach Kafka."""


class ReplayFileError(SourceError):
    """A replay file cannot be opened or has an unknown format."""
