"""Errors of the Kafka package, each with a message that says what to do."""

from __future__ import annotations

from candleflow.domain.exceptions import CandleflowError, Unavailable


class TopicError(CandleflowError):
    """A topic does not exist, or cannot be created."""


class LogUnavailable(Unavailable):
    """Kafka, the topic or its records cannot be read; the message says what to do."""


class KafkaRefused(Unavailable):
    """A broker answers but refuses this client (its login, its certificate, its protocol):
    trying again does not help, the settings must change; the message says which."""
