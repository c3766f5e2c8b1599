"""The engine's dead-letter outbox (`dead_letters`, sql/007_engine_safety.sql): every
statement the outbox runs (`candleflow.engine.outbox`).

`record` runs inside a batch's transaction, so a rejected record is in the outbox exactly
when the ledger has moved past it. Publishing one partition's rows is serialised across
workers by a session advisory lock (`try_lock`) on a connection held for the whole
publish: the server drops it with the session if the publisher dies, so a crash never
leaves a partition locked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from candleflow.store.connection import Connection, Statements

RECORD = """
INSERT INTO dead_letters (consumer, topic, partition, source_offset, key, value)
SELECT $1, $2, d.partition, d.source_offset, d.key, d.value
FROM unnest($3::int[], $4::bigint[], $5::bytea[], $6::bytea[]) AS d(partition, source_offset, key, value)
ON CONFLICT DO NOTHING
"""

PARTITIONS = """
SELECT DISTINCT partition FROM dead_letters WHERE consumer = $1 AND topic = $2 ORDER BY partition
"""

PENDING = """
SELECT source_offset, key, value, attempts, attempted_at FROM dead_letters
WHERE consumer = $1 AND topic = $2 AND partition = $3
ORDER BY source_offset
LIMIT $4
"""

ATTEMPTED = """
UPDATE dead_letters SET attempts = attempts + 1, attempted_at = $5
WHERE consumer = $1 AND topic = $2 AND partition = $3 AND source_offset = ANY($4::bigint[])
"""

DONE = """
DELETE FROM dead_letters
WHERE consumer = $1 AND topic = $2 AND partition = $3 AND source_offset = ANY($4::bigint[])
"""

COUNT = "SELECT count(*) FROM dead_letters WHERE consumer = $1 AND topic = $2"

#: The advisory lock of one (consumer, topic, partition): two int4 keys.
TRY_LOCK = "SELECT pg_try_advisory_lock(hashtext($1 || '/' || $2), $3)"
UNLOCK = "SELECT pg_advisory_unlock(hashtext($1 || '/' || $2), $3)"


@dataclass(frozen=True, slots=True)
class Pending:
    """One outbox row: a dead letter not yet known to be on the dead-letter topic."""

    offset: int
    key: bytes | None
    value: bytes
    attempts: int
    attempted_at: float | None


async def record(
    conn: Connection, consumer: str, topic: str, rows: Sequence[tuple[int, int, bytes | None, bytes]]
) -> None:
    """Store `(partition, offset, key, value)` dead letters (in the batch's transaction)."""
    if not rows:
        return
    await conn.execute(
        RECORD,
        consumer,
        topic,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
    )


async def partitions(conn: Statements, consumer: str, topic: str) -> list[int]:
    """The partitions that have rows in the outbox."""
    return [row["partition"] for row in await conn.fetch(PARTITIONS, consumer, topic)]


async def pending(conn: Connection, consumer: str, topic: str, partition: int, limit: int) -> list[Pending]:
    """The partition's oldest `limit` outbox rows, by offset."""
    rows = await conn.fetch(PENDING, consumer, topic, partition, limit)
    return [Pending(r["source_offset"], r["key"], r["value"], r["attempts"], r["attempted_at"]) for r in rows]


async def attempted(
    conn: Connection, consumer: str, topic: str, partition: int, offsets: Sequence[int], at: float
) -> None:
    """Mark rows as possibly sent (before sending them)."""
    await conn.execute(ATTEMPTED, consumer, topic, partition, list(offsets), at)


async def done(conn: Connection, consumer: str, topic: str, partition: int, offsets: Sequence[int]) -> None:
    """Drop rows whose records are on the dead-letter topic."""
    await conn.execute(DONE, consumer, topic, partition, list(offsets))


async def count(conn: Statements, consumer: str, topic: str) -> int:
    return int(await conn.fetchval(COUNT, consumer, topic))


async def try_lock(conn: Connection, consumer: str, topic: str, partition: int) -> bool:
    return bool(await conn.fetchval(TRY_LOCK, consumer, topic, partition))


async def unlock(conn: Connection, consumer: str, topic: str, partition: int) -> None:
    await conn.fetchval(UNLOCK, consumer, topic, partition)
