"""The stack's streaming read replica, seen from outside: how far it trails the primary,
and the replication slot that makes the primary keep the WAL it still needs.

The replica itself is a `PostgresServer` made by `pg_basebackup -R` from the primary
(`PostgresServer.prepare(..., primary_port=...)`); it replays the primary's WAL as a
hot standby and answers read-only queries on its own port.
"""

from __future__ import annotations

from dataclasses import dataclass

from candleflow.stack.postgres import SLOT, url


@dataclass(frozen=True)
class ReplicaLag:
    """How far the replica trails the primary.

    `bytes`: WAL the primary has written that the replica has not replayed yet;
    `seconds`: when behind, the age of the last transaction it replayed (0 when caught
    up: an idle primary writes nothing to catch up with); `streaming`: its WAL receiver
    is connected to the primary.
    """

    bytes: int
    seconds: float
    streaming: bool

    @property
    def caught_up(self) -> bool:
        return self.bytes <= 0

    def describe(self) -> str:
        link = "streaming" if self.streaming else "NOT streaming"
        if self.caught_up:
            return f"{link}, caught up"
        return f"{link}, {self.bytes} bytes of WAL behind ({self.seconds:.1f} s)"


async def replica_lag(primary_port: int, replica_port: int) -> ReplicaLag:
    """Replay position of the replica against the primary's current WAL position."""
    import asyncpg

    replica = await asyncpg.connect(url(replica_port, "postgres"), timeout=10)
    try:
        row = await replica.fetchrow(
            "SELECT pg_last_wal_replay_lsn()::text AS replayed,"
            " extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS age,"
            " EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') AS streaming"
        )
    finally:
        await replica.close()
    primary = await asyncpg.connect(url(primary_port, "postgres"), timeout=10)
    try:
        behind = await primary.fetchval(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)", row["replayed"]
        )
    finally:
        await primary.close()
    lag = max(0, int(behind))
    return ReplicaLag(lag, float(row["age"] or 0.0) if lag else 0.0, bool(row["streaming"]))


async def drop_slot(primary_port: int) -> None:
    """Drop the replica's slot on the primary (the replica is gone: keep no WAL for it)."""
    import asyncpg

    conn = await asyncpg.connect(url(primary_port, "postgres"), timeout=10)
    try:
        await conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", SLOT
        )
    finally:
        await conn.close()
