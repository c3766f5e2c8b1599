"""A short-lived per-process cache of symbol look-ups, so history reads stay one query.

Known symbols are kept for a minute (their `price_decimals` may grow), unknown names
for two seconds (a new symbol appears as soon as its first tick is stored).
"""

from __future__ import annotations

import time
from typing import Any

from candleflow.store import queries
from candleflow.store.queries import SymbolRow

KNOWN_TTL = 60.0
UNKNOWN_TTL = 2.0
MAX_ENTRIES = 10_000


class SymbolCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, SymbolRow | None]] = {}

    async def find(self, db: Any, name: str) -> SymbolRow | None:
        now = time.monotonic()
        hit = self._entries.get(name)
        if hit is not None and hit[0] > now:
            return hit[1]
        row = await queries.find_symbol(db, name)
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[name] = (now + (KNOWN_TTL if row else UNKNOWN_TTL), row)
        return row
