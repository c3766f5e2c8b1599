"""A per-process cache of symbol look-ups, so a history read stays one query.

Only a name that is exactly a stored symbol is kept: symbols are never deleted, so such
a name always resolves to itself, and clients that resolved a symbol once send its exact
name (the `ticker` of `/udf/symbols`). The row is refreshed after `KNOWN_TTL` seconds,
since its `price_decimals` may grow. Anything else is looked up every time: an unknown
name (a symbol stored a moment later is found at once, an unknown one stays 404) and
the other spellings (`BASE/QUOTE`, another case), whose answer a newly listed exchange
may change.
"""

from __future__ import annotations

import time

from candleflow.store import queries
from candleflow.store.connection import Statements
from candleflow.store.queries import SymbolRow

KNOWN_TTL = 60.0


class SymbolCache:
    def __init__(self) -> None:
        self._exact: dict[str, tuple[float, SymbolRow]] = {}

    async def find(self, db: Statements, name: str) -> SymbolRow | None:
        hit = self._exact.get(name)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        row = await queries.find_symbol(db, name)
        if row is not None and row.symbol == name:
            self._exact[name] = (time.monotonic() + KNOWN_TTL, row)
        return row
