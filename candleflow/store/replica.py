"""Reads that may go to a streaming read replica (`CANDLEFLOW_DATABASE_READ_URL`).

`Reads` is what a web process reads history, indicators, marks, quotes and symbols
through: `await reads.connected()` is the `Database` to read from now. Writes, the
engine's reads and the live streams' current bars stay on the primary (a stream must
start from what the engine committed before the updates it is sent).

Lag. `ReplicaMonitor` samples, every `sample_s`, the primary's WAL position
(`pg_current_wal_lsn`) and the replica's replayed position
(`pg_last_wal_replay_lsn`), and keeps the primary's positions the replica has not
replayed yet with the time each was seen: the replica trails the primary by at least
the age of the oldest of them (0 when it has replayed them all). This needs no
privilege and stays true when the replica's connection to the primary is lost (its
replayed position stops, the ages grow), unlike the time of its last replayed
transaction, which stands still whenever the primary is idle.

A replica that trails by more than `max_lag_s`, or does not answer, is not read from:
reads go to the primary (`fallback="primary"`) or fail with `ReplicaUnavailable`,
which says why (`fallback="fail"`: a deployment whose primary must not take reads).
`snapshot()` is the `/healthz` section.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from dataclasses import dataclass

from candleflow.core.settings import variable
from candleflow.core.tasks import cancel_and_wait
from candleflow.store.connection import DB_ERRORS, DatabaseUnavailable, redacted
from candleflow.store.database import Database

log = logging.getLogger(__name__)

SAMPLE_S = 1.0
#: Positions kept at most (the oldest unreplayed one is what counts).
MAX_SAMPLES = 3600
QUERY_TIMEOUT_S = 3.0
FALLBACKS = ("primary", "fail")


class ReplicaUnavailable(DatabaseUnavailable):
    """The read replica lags or is down and reads may not fall back to the primary."""


def lsn(text: str) -> int:
    """A PostgreSQL WAL position (`16/B374D848`) as a number of bytes."""
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


@dataclass(frozen=True, slots=True)
class ReplicaState:
    """The monitor's latest look: `lag_s` None while unknown; `error` when the replica did
    not answer (None: it did)."""

    lag_s: float | None = None
    error: str | None = None
    standby: bool = True
    at: float | None = None

    def unusable(self, max_lag_s: float) -> str | None:
        """Why reads must not go to the replica now (None: they may)."""
        if self.error is not None:
            return f"read replica down: {self.error}"
        if self.lag_s is not None and self.lag_s > max_lag_s:
            return f"read replica {self.lag_s:.1f} s behind the primary (more than {max_lag_s:g} s)"
        return None


class ReplicaMonitor:
    """See the module docstring; `run()` samples until cancelled, `sample()` once."""

    def __init__(self, primary: Database, replica: Database, sample_s: float = SAMPLE_S) -> None:
        self.primary = primary
        self.replica = replica
        self.sample_s = sample_s
        self.state = ReplicaState()
        self._unreplayed: collections.deque[tuple[float, int]] = collections.deque()

    async def run(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self.sample_s)

    async def sample(self) -> ReplicaState:
        now = time.monotonic()
        head: int | None = None
        with contextlib.suppress(*DB_ERRORS):  # a primary that is down says nothing of the replica
            async with asyncio.timeout(QUERY_TIMEOUT_S):
                head = lsn(await self.primary.fetchval("SELECT pg_current_wal_lsn()::text"))
        try:
            async with asyncio.timeout(QUERY_TIMEOUT_S):
                row = await self.replica.fetchrow(
                    "SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replayed"
                )
        except DB_ERRORS as exc:
            cause = exc.__cause__ or exc
            self.state = ReplicaState(self.state.lag_s, f"{type(cause).__name__}: {cause}"[:300], at=now)
            return self.state
        assert row is not None
        if not row["standby"] or row["replayed"] is None:  # the URL names a server that is no standby
            self.state = ReplicaState(0.0, None, standby=False, at=now)
            return self.state
        if head is not None and len(self._unreplayed) < MAX_SAMPLES:
            self._unreplayed.append((now, head))
        replayed = lsn(row["replayed"])
        while self._unreplayed and self._unreplayed[0][1] <= replayed:
            self._unreplayed.popleft()
        lag = now - self._unreplayed[0][0] if self._unreplayed else 0.0
        if head is None and self.state.lag_s is not None:
            lag = max(lag, self.state.lag_s)
        self.state = ReplicaState(round(lag, 3), None, at=now)
        return self.state


class Reads:
    """Where reads go (see the module docstring). Without a replica, always the primary."""

    def __init__(
        self,
        primary: Database,
        replica: Database | None = None,
        *,
        max_lag_s: float = 10.0,
        fallback: str = "primary",
        sample_s: float = SAMPLE_S,
    ) -> None:
        if fallback not in FALLBACKS:
            raise ValueError(f"fallback {fallback!r}: one of {FALLBACKS}")
        self.primary = primary
        self.replica = replica
        self.max_lag_s = max_lag_s
        self.fallback = fallback
        self.monitor = None if replica is None else ReplicaMonitor(primary, replica, sample_s)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start watching the replica (nothing to do without one)."""
        if self.monitor is not None and self._task is None:
            self._task = asyncio.create_task(self.monitor.run(), name="candleflow-replica-monitor")

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        if self.replica is not None:
            await self.replica.close()

    def unusable(self) -> str | None:
        """Why the replica is not read from now (None: it is, or there is none)."""
        return None if self.monitor is None else self.monitor.state.unusable(self.max_lag_s)

    async def connected(self) -> Database:
        """The database to read from now, once a connection to it is open."""
        if self.replica is None:
            return await self.primary.connected()
        why = self.unusable()
        if why is None:
            try:
                return await self.replica.connected()
            except DatabaseUnavailable as exc:
                why = f"read replica down: {exc}"
        if self.fallback == "primary":
            return await self.primary.connected()
        raise ReplicaUnavailable(f"{why}; reads do not fall back to the primary ({variable('replica_fallback')}=fail)")

    def snapshot(self) -> dict[str, object] | None:
        """The `/healthz` section (None without a replica)."""
        if self.replica is None or self.monitor is None:
            return None
        state = self.monitor.state
        why = self.unusable()
        return {
            "url": redacted(self.replica.url),
            "reachable": state.error is None if state.at is not None else None,
            "lag_s": state.lag_s,
            "max_lag_s": self.max_lag_s,
            "standby": state.standby,
            "reads_from": "replica" if why is None else "primary" if self.fallback == "primary" else "none",
            "error": state.error,
            "reason": why,
        }
