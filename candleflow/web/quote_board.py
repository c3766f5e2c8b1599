"""Streamed quotes: `/udf/quotes` pushed on `/udf/streams` for the symbols each stream follows.

A stream follows a symbol's quote with `quote=<symbol>` (when it opens, or with the
subscribe POST). It gets the quote at once, then a fresh one whenever the symbol's
1-minute bar changed (the hub tells the board of every update it receives,
`Hub.on_update`), at most once per `interval`: the board gathers the symbols that
changed and asks the store for all their quotes in one query, the very query and shape
of `/udf/quotes` (`candleflow.web.quotes.quote_items`), so a quiet stream ends on what
`/udf/quotes` answers. Event::

    event: quote   data: {"s": "ok", "n": "<symbol as asked>", "v": {"lp", "ch", "chp", ...}}

A name that is no stored symbol gets one `{"s": "error", "n": …, "v": {}}`, like
`/udf/quotes`, and is not followed. A client that falls behind keeps the latest quote
per symbol in its queue, never a backlog.

One board per web application (`WebContext.quotes`), built by its factory; its pushing
task runs while some stream follows a quote, and `close` ends it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import orjson

from candleflow.core.tasks import cancel_and_wait
from candleflow.domain.updates import BarUpdate
from candleflow.store.database import Database
from candleflow.store.queries import QUOTES_RESOLUTION
from candleflow.web.connection import Connection, event
from candleflow.web.hub import Hub
from candleflow.web.quotes import quote_items
from candleflow.web.symbols_cache import SymbolCache

log = logging.getLogger(__name__)

#: Least seconds between two quotes of one symbol.
INTERVAL_S = 0.5


class QuoteBoard:
    """Who follows which symbol's quote in this process, and the task that pushes them."""

    def __init__(self, database: Database, symbols: SymbolCache, *, interval: float = INTERVAL_S) -> None:
        self.database = database
        self.symbols = symbols
        self.interval = interval
        self.hub: Hub | None = None
        self.followers: dict[str, set[Connection]] = {}
        self.changed: set[str] = set()
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def attach(self, hub: Hub) -> None:
        """Hear the updates of `hub` (the worker's; again after a restart gave a new one)."""
        if self.hub is not hub:
            self.hub = hub
            hub.on_update = self.touch

    def touch(self, update: BarUpdate) -> None:
        if update.resolution == QUOTES_RESOLUTION and update.symbol in self.followers:
            self.changed.add(update.symbol)
            self._woken.set()

    async def follow(self, connection: Connection, names: Iterable[str], stamp: int) -> None:
        """Follow `names` on `connection`, and queue their quotes now."""
        asked = list(dict.fromkeys(names))
        db = await self.database.connected()
        for name in asked:
            row = await self.symbols.find(db, name)
            if row is not None:
                connection.follow_quote(row.symbol, name)
                self.followers.setdefault(row.symbol, set()).add(connection)
        for item in await quote_items(db, self.symbols, asked):
            connection.quote(item["n"], event(b"quote", orjson.dumps(item)), stamp)
        if self.followers and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._run(), name="candleflow-quotes")

    def unfollow(self, connection: Connection, names: Iterable[str]) -> None:
        """Stop following `names` (as asked, or the symbols they name) on `connection`."""
        wanted = set(names)
        for symbol, name in list(connection.quoted.items()):
            if name in wanted or symbol in wanted:
                connection.drop_quote(symbol)
                self._drop(symbol, connection)

    def _drop(self, symbol: str, connection: Connection) -> None:
        group = self.followers.get(symbol)
        if group is not None:
            group.discard(connection)
            if not group:
                del self.followers[symbol]

    async def close(self) -> None:
        """End the pushing task (the application stops)."""
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self) -> None:
        while self.followers:
            await self._woken.wait()
            await asyncio.sleep(self.interval)
            self._woken.clear()
            changed, self.changed = self.changed, set()
            try:
                await self._round(changed)
            except Exception as exc:  # the database may be down: the next change tries again
                log.warning("streamed quotes skipped a round: %r", exc)

    async def _round(self, changed: set[str]) -> None:
        """One query for every follower of the changed symbols, one event per name asked."""
        wanted: dict[str, list[Connection]] = {}
        for symbol in changed:
            for connection in list(self.followers.get(symbol, ())):
                if connection.closed is not None:
                    self._drop(symbol, connection)
                    continue
                name = connection.quoted.get(symbol)
                if name is not None:
                    wanted.setdefault(name, []).append(connection)
        if not wanted:
            return
        stamp = self.hub.now if self.hub is not None else 0
        db = await self.database.connected()
        for item in await quote_items(db, self.symbols, sorted(wanted)):
            body = event(b"quote", orjson.dumps(item))
            for connection in wanted[item["n"]]:
                connection.quote(item["n"], body, stamp)
