"""The reads `candleflow db verify` needs: stored bars of a window (streamed with a
cursor, never all at once) and the engine's ledger (to tell a lagging engine from a
wrong bar)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

from candleflow.domain.bars import Bar, BarKey
from candleflow.store.connection import Connection
from candleflow.store.sql import epoch_ms, ms

STORED_BARS = f"""
SELECT symbol, resolution, {epoch_ms("bucket")} AS bucket,
       open, high, low, close, volume, trades, open_ts, open_seq, close_ts, close_seq, source
FROM bars
WHERE ($1::text[] IS NULL OR symbol = ANY($1::text[]))
  AND ($2::bigint IS NULL OR bucket >= {ms("$2::bigint")})
  AND ($3::bigint IS NULL OR bucket < {ms("$3::bigint")})
"""

LEDGER = "SELECT partition, next_offset FROM source_offsets WHERE consumer = $1 AND topic = $2"


async def stored_bars(
    conn: Connection,
    symbols: Sequence[str] | None,
    since: int | None,
    until: int | None,
    *,
    prefetch: int = 10_000,
) -> AsyncIterator[tuple[BarKey, Bar, str]]:
    """Every stored bar of the window as `(key, bar, source)`; call inside a transaction."""
    cursor = conn.cursor(STORED_BARS, list(symbols) if symbols is not None else None, since, until, prefetch=prefetch)
    async for row in cursor:
        bar = Bar(
            row["open"],
            row["high"],
            row["low"],
            row["close"],
            Decimal(row["volume"]),
            row["trades"],
            row["open_ts"],
            row["open_seq"],
            row["close_ts"],
            row["close_seq"],
        )
        yield (row["symbol"], row["resolution"], row["bucket"]), bar, row["source"]


async def ledger(conn: Connection, consumer: str, topic: str) -> dict[int, int]:
    """The engine's next expected offset per partition (empty when it never ran)."""
    return {row["partition"]: row["next_offset"] for row in await conn.fetch(LEDGER, consumer, topic)}
