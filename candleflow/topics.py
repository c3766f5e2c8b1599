"""The Kafka topics of the app. Declared `internal` so that Faust creates them with the
configured partition count at worker start (the local broker never auto-creates)."""

from __future__ import annotations

from candleflow.app import app, settings

ticks = app.topic(
    settings.ticks_topic,
    partitions=settings.ticks_partitions,
    internal=True,
    key_serializer="raw",
    value_serializer="raw",
)
dead = app.topic(
    settings.dead_topic,
    partitions=settings.ticks_partitions,
    internal=True,
    key_serializer="raw",
    value_serializer="raw",
)
updates = app.topic(
    settings.updates_topic,
    partitions=settings.ticks_partitions,
    internal=True,
    key_serializer="raw",
    value_serializer="raw",
)
