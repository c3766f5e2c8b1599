"""The Kafka topics of the app. Declared `internal` so that Faust creates them with the
configured partition count at worker start (the local broker never auto-creates)."""

from __future__ import annotations

from typing import Any

from candleflow.app import app, settings


def _raw_topic(name: str) -> Any:
    """A topic of raw bytes with the ticks topic's partition count."""
    return app.topic(
        name, partitions=settings.ticks_partitions, internal=True, key_serializer="raw", value_serializer="raw"
    )


ticks = _raw_topic(settings.ticks_topic)
dead = _raw_topic(settings.dead_topic)
updates = _raw_topic(settings.updates_topic)
