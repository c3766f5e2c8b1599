"""The replays a process runs, by id, up to a cap.

A replay belongs to the connection that opened it: it is registered while that
connection streams it and removed when the connection ends, so its id (a random
128-bit hex string, told only to that connection) names it for the controls and for
nothing else. Past `limit` replays at once, `admit` refuses: each holds a Kafka consumer
and a window of bars per series, and each at max speed takes its share of the event
loop the live engine runs on.
"""

from __future__ import annotations

from candleflow.core.metrics import REPLAYS, REPLAYS_REJECTED
from candleflow.replay.chunks import ChunkCache
from candleflow.replay.session import Replay


class Replays:
    def __init__(self, limit: int, chunks: ChunkCache | None = None) -> None:
        self.limit = limit
        self.running: dict[str, Replay] = {}
        #: The log chunks every replay of the process shares.
        self.chunks = ChunkCache() if chunks is None else chunks

    def __len__(self) -> int:
        return len(self.running)

    def full(self) -> bool:
        """Whether a new replay must be refused now (counted when it is)."""
        if len(self.running) >= self.limit:
            REPLAYS_REJECTED.inc()
            return True
        return False

    def add(self, replay: Replay) -> None:
        self.running[replay.id] = replay
        REPLAYS.set(len(self.running))

    def remove(self, replay: Replay) -> None:
        if self.running.pop(replay.id, None) is not None:
            REPLAYS.set(len(self.running))

    def get(self, replay_id: str) -> Replay | None:
        return self.running.get(replay_id)

    def stop_all(self) -> None:
        """End every replay at its next turn (the process shuts down)."""
        for replay in list(self.running.values()):
            replay.stop()
