"""Raw `ticks.raw` records folded into bars: the fold of every bulk reader of the log.

`TickFolder` is what `db verify`, `candleflow replay` and the replay's catch-up use
to turn `(offset, raw value)` records into bars; the engine folds its batches with
`candleflow.domain.bars.aggregate` over the ticks `candleflow.domain.ticks.parse_tick` accepted.
Both give the same bars (tests/unit/domain/test_fold.py checks it with Hypothesis): this is
the fast path, kept because a bulk rebuild spends its whole budget here.

`TickFolder.add` decodes with orjson and takes the common, well-formed record through
a few type checks that accept exactly a subset of what `validate_tick` accepts;
anything unusual goes through `validate_tick` itself, so the folder keeps and skips
exactly the ticks the engine keeps and dead-letters. Each tick is folded straight into
one dict of 1-second bars (the rules of `Bar.absorb`, inlined: a method call per tick
is a measurable share of the budget; so are `price_decimals` and `Decimal(repr(qty))`,
replaced by a `round` check against the symbol's most decimals so far and a cache of
quantities); `finish` rolls them up once into every resolution with
`candleflow.domain.bars.roll_up`. `seq` is the record's offset, as in the engine.

Memory: one `Bar` (about 250 bytes) per symbol and second with ticks, plus the rolled-up
bars at the end. Narrow very long reads by symbols or a `since` cutoff.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from decimal import Decimal

import orjson

from candleflow.domain.bars import VOLUME_CONTEXT, Bar, BarKey, roll_up
from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.symbols import SymbolSeen
from candleflow.domain.ticks import EARLIEST_MS, SIDES, price_decimals, validate_tick

_INF = float("inf")
AMOUNTS_CACHED = 200_000


class TickFolder:
    """Folds batches of `(offset, raw value)` into 1-second bars.

    `symbols` keeps only those symbols (None: all); `since` keeps only ticks with event
    time >= since (the `--from` cutoff). `now_ms` fixes "now" for the future-time check
    (default: the time of each batch, as the engine does).
    """

    def __init__(
        self,
        *,
        symbols: frozenset[str] | None = None,
        since: int | None = None,
        future_tolerance_s: float = 300.0,
        now_ms: int | None = None,
    ) -> None:
        self.symbols = symbols
        self.since = since
        self.future_tolerance_s = future_tolerance_s
        self.now_ms = now_ms
        self.seconds: dict[tuple[str, int], Bar] = {}
        self.decimals: dict[str, int] = {}
        self.records = 0  # every record read
        self.invalid = 0  # skipped: the engine dead-letters them
        self.kept = 0  # ticks folded into bars (valid, of the wanted symbols, not before `since`)
        self._valid_symbols: set[str] = set()
        #: float quantity -> its exact decimal: real trade sizes repeat (lots, round sizes).
        self._amounts: dict[float, Decimal] = {}

    def add(self, records: Iterable[tuple[int, bytes]]) -> None:
        """Fold one batch of records (any order, any partitions)."""
        now = int(time.time() * 1000) if self.now_ms is None else self.now_ms
        tolerance_ms = int(self.future_tolerance_s * 1000)
        latest = now + tolerance_ms
        wanted, since = self.symbols, self.since if self.since is not None else EARLIEST_MS
        valid_symbols = self._valid_symbols
        bars = self.seconds
        get = bars.get
        decimals = self.decimals
        amounts = self._amounts
        loads, decode_error, add, sides = orjson.loads, orjson.JSONDecodeError, VOLUME_CONTEXT.add, SIDES
        count = invalid = kept = 0
        for offset, value in records:
            count += 1
            try:
                record = loads(value)
            except decode_error:
                invalid += 1
                continue
            # The fast path: only records validate_tick certainly accepts unchanged.
            if (
                type(record) is dict
                and type(ts := record.get("ts")) is int
                and EARLIEST_MS <= ts <= latest
                and type(price := record.get("price")) is float
                and 0.0 < price < _INF
                and type(qty := record.get("qty")) is float
                and 0.0 <= qty < _INF
                and type(symbol := record.get("symbol")) is str
                and symbol in valid_symbols
                and type(side := record.get("side", "unknown")) is str
                and side in sides
                and ((trade_id := record.get("id")) is None or type(trade_id) is str)
            ):
                pass
            else:
                try:
                    tick = validate_tick(record, now_ms=now, future_tolerance_s=self.future_tolerance_s)
                except (InvalidTick, TypeError):  # TypeError: an unhashable side
                    invalid += 1
                    continue
                symbol, ts, price, qty = tick.symbol, tick.ts, tick.price, tick.qty
                valid_symbols.add(symbol)
            if ts < since or (wanted is not None and symbol not in wanted):
                continue
            kept += 1
            places = decimals.get(symbol)
            if places is None or round(price, places) != price:  # cheaper than price_decimals per tick
                decimals[symbol] = max(places or 0, price_decimals(price))
            amount = amounts.get(qty)
            if amount is None:
                if len(amounts) > AMOUNTS_CACHED:
                    amounts.clear()
                amount = amounts[qty] = Decimal(repr(qty))
            key = (symbol, ts - ts % 1000)
            bar = get(key)
            if bar is None:
                bars[key] = Bar(price, price, price, price, amount, 1, ts, offset, ts, offset)
                continue
            if price > bar.high:
                bar.high = price
            elif price < bar.low:
                bar.low = price
            bar.volume = add(bar.volume, amount)
            bar.trades += 1
            if ts < bar.open_ts or (ts == bar.open_ts and offset < bar.open_seq):
                bar.open, bar.open_ts, bar.open_seq = price, ts, offset
            if ts > bar.close_ts or (ts == bar.close_ts and offset >= bar.close_seq):
                bar.close, bar.close_ts, bar.close_seq = price, ts, offset
        self.records += count
        self.invalid += invalid
        self.kept += kept

    @property
    def valid(self) -> int:
        """Records that are ticks, wanted or not."""
        return self.records - self.invalid

    def seen(self) -> dict[str, SymbolSeen]:
        """Per symbol: most price decimals, first and last tick time."""
        found: dict[str, SymbolSeen] = {}
        for (symbol, _), bar in self.seconds.items():
            info = found.get(symbol)
            if info is None:
                found[symbol] = SymbolSeen(self.decimals[symbol], bar.open_ts, bar.close_ts)
            else:
                info.first = min(info.first, bar.open_ts)
                info.last = max(info.last, bar.close_ts)
        return found

    def finish(self) -> dict[BarKey, Bar]:
        """Every supported resolution's bars (the 1-second bars are shared, not copied)."""
        return roll_up(self.seconds)
