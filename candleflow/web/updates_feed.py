"""How a web process's SSE hub follows `bars.updates`: the Kafka half of the hub.

`UpdatesFeed.run(hub)` follows every partition of the updates topic from its end
(`candleflow.kafka.follow.TopicFollower`), decodes each record and hands the update to
the hub (`Hub.receive`), skipping the records this process published itself (they
reached the hub in memory, `Hub.receive_all`). A broken connection is re-opened after a
second; the gap is closed by re-reading the current bars of every subscribed series
(`reread`, from the database) and letting them go out as updates (`Hub.resync`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from candleflow.domain.updates import ORIGIN_HEADER, BarUpdate, Key, decode
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.follow import TopicFollower
from candleflow.store import queries
from candleflow.store.connection import Statements

log = logging.getLogger(__name__)

#: Seconds before a lost connection to the topic is opened again.
RECONNECT_S = 1.0

#: Reads the current (latest) bars of series from the database.
Reread = Callable[[list[Key]], Awaitable[list[BarUpdate]]]


class Receiver(Protocol):
    """What the feed hands updates to: the hub (`candleflow.web.hub.Hub`)."""

    @property
    def following(self) -> asyncio.Event: ...

    def monotonic(self) -> float: ...

    def receive(self, update: BarUpdate, received: float) -> None: ...

    async def resync(self, reread: Reread | None) -> None: ...


async def current_bars(db: Statements, keys: list[Key]) -> list[BarUpdate]:
    """The latest stored bar of each series (a hub's re-read after a gap)."""
    found = [await queries.latest_bar(db, symbol, resolution) for symbol, resolution in keys]
    return [bar for bar in found if bar is not None]


class UpdatesFeed:
    """See the module docstring. `origin`: the id this process's own updates carry."""

    def __init__(
        self, kafka: KafkaConfig, topic: str, *, origin: str | None = None, reread: Reread | None = None
    ) -> None:
        self.kafka = kafka
        self.topic = topic
        self.reread = reread
        self._own = None if origin is None else (ORIGIN_HEADER, origin.encode())

    async def run(self, hub: Receiver) -> None:
        """Follow the topic for `hub` until cancelled; `hub.following` tells when it is
        positioned at the end (cleared while the connection is lost)."""
        first = True
        while True:
            try:
                await self._consume(hub, resync=not first)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker gone, topic deleted, ...: start over
                log.warning("SSE hub lost %s (%r); reconnecting in %.0f s", self.topic, exc, RECONNECT_S)
                hub.following.clear()
                first = False
                await asyncio.sleep(RECONNECT_S)

    async def _consume(self, hub: Receiver, resync: bool) -> None:
        async with TopicFollower(self.kafka, self.topic, "sse-hub") as follower:
            await follower.assign_all()
            if resync:
                await hub.resync(self.reread)
            hub.following.set()
            own = self._own
            async for records in follower.batches():
                received = hub.monotonic()
                for record in records:
                    if own is not None and own in record.headers:
                        continue  # received in memory already (`Hub.receive_all`)
                    update = decode(record.value)
                    if update is not None:
                        hub.receive(update, received)
