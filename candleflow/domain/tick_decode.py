"""A batch of raw `ticks.raw` values decoded at once: the valid ticks as columns, the rest
with the reason `validate_tick` gives.

`candleflow.domain.ticks.parse_tick` (orjson, then `validate_tick`) is the rule. Here
the common, well-formed record is decoded by msgspec straight into a typed struct whose
declared types and bounds accept only what `validate_tick` accepts unchanged (integer
`ts` from 2009 on, `price` and `qty` as JSON numbers within their bounds, `side` one of
the three words, `id` a string or a 64-bit integer, `tick_size` a string, and no other
field); the rules that depend on more than one value at a time or on text — the
symbol's spelling and the tick size (each checked once per distinct value) and how far
in the future `ts` may be — are checked on the columns. Every record msgspec refuses
or a column check flags goes through `parse_tick` itself, which either accepts it (a
price written as a string, a null side, ...) or gives the reason it is dead-lettered.
So a batch keeps and rejects exactly the records `parse_tick` would, with its reasons;
`tests/unit/domain/test_tick_decode.py` holds the two to each other with Hypothesis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec
import numpy as np
import numpy.typing as npt

from candleflow.domain.exceptions import InvalidTick
from candleflow.domain.pricescale import parse_tick_size
from candleflow.domain.symbols import is_symbol
from candleflow.domain.ticks import EARLIEST_MS, MAX_PRICE, MAX_QTY, MIN_PRICE, Tick, parse_tick

#: Anything msgspec raises for a value that is not such a struct (bytes of any kind).
_REFUSED = (msgspec.DecodeError, msgspec.ValidationError, TypeError, UnicodeDecodeError)


class WireTick(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """The well-formed tick on the wire (see `candleflow.domain.ticks`).

    Other fields send a record to `parse_tick`: orjson refuses some JSON that msgspec
    skips unread (an infinite number, invalid UTF-8 in a string, deeper nesting), so
    only records made of these fields alone are certain to be read alike.
    """

    symbol: str
    ts: Annotated[int, msgspec.Meta(ge=EARLIEST_MS, le=2**62)]
    price: Annotated[float, msgspec.Meta(ge=MIN_PRICE, le=MAX_PRICE)]
    qty: Annotated[float, msgspec.Meta(ge=0.0, le=MAX_QTY)]
    side: Literal["buy", "sell", "unknown"] = "unknown"
    #: orjson reads integers past 64 bits as floats, which `validate_tick` refuses
    id: str | Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)] | None = None
    tick_size: str | None = None


_DECODE = msgspec.json.Decoder(WireTick).decode


@dataclass(slots=True)
class TickColumns:
    """The valid ticks of a batch, one array (or list) per field, in batch order;
    `positions` says where in the batch each one was."""

    positions: npt.NDArray[np.int64]
    symbols: list[str]
    ts: npt.NDArray[np.int64]
    price: npt.NDArray[np.float64]
    qty: npt.NDArray[np.float64]
    #: each tick's tick size (canonical text) or None; None for the whole column when no
    #: tick of the batch carries one (the common case costs nothing)
    tick_sizes: list[str | None] | None = None

    def __len__(self) -> int:
        return len(self.symbols)

    def take(self, keep: npt.NDArray[np.bool_]) -> TickColumns:
        """Only the ticks where `keep` is true."""
        chosen = np.flatnonzero(keep)
        indices = chosen.tolist()
        return TickColumns(
            self.positions[chosen],
            [self.symbols[i] for i in indices],
            self.ts[chosen],
            self.price[chosen],
            self.qty[chosen],
            None if self.tick_sizes is None else [self.tick_sizes[i] for i in indices],
        )


@dataclass(slots=True)
class DecodedBatch:
    ticks: TickColumns
    #: (position in the batch, reason) of every record `parse_tick` refuses, in batch order
    rejects: list[tuple[int, str]]


def decode_batch(values: Sequence[bytes | None], *, now_ms: int, future_tolerance_s: float) -> DecodedBatch:
    """Decode and validate `values` (see the module docstring)."""
    fast: list[int] | None = None  # positions msgspec took, when it did not take them all
    try:
        wire = [_DECODE(value) for value in values]  # type: ignore[arg-type]
    except _REFUSED:
        wire, fast = [], []
        for position, value in enumerate(values):
            tick = _decode_or_none(value)
            if tick is not None:
                wire.append(tick)
                fast.append(position)
    symbols = [tick.symbol for tick in wire]
    ts = np.array([tick.ts for tick in wire], dtype=np.int64)
    ok = ts <= now_ms + int(future_tolerance_s * 1000)
    bad_symbols = {symbol for symbol in set(symbols) if not is_symbol(symbol)}
    if bad_symbols:
        ok &= np.array([symbol not in bad_symbols for symbol in symbols], dtype=bool)
    tick_sizes = _tick_sizes(wire, ok)
    positions = np.arange(len(values), dtype=np.int64) if fast is None else np.array(fast, dtype=np.int64)
    columns = TickColumns(
        positions,
        symbols,
        ts,
        np.array([tick.price for tick in wire], dtype=np.float64),
        np.array([tick.qty for tick in wire], dtype=np.float64),
        tick_sizes,
    )
    slow = set() if fast is None else set(range(len(values))) - set(fast)
    if not ok.all():
        slow.update(columns.positions[~ok].tolist())
        columns = columns.take(ok)
    if not slow:
        return DecodedBatch(columns, [])
    return _with_slow(values, columns, sorted(slow), now_ms, future_tolerance_s)


def _tick_sizes(wire: Sequence[WireTick], ok: npt.NDArray[np.bool_]) -> list[str | None] | None:
    """The canonical tick size of each tick (None: no tick carries one); a tick whose
    tick size is invalid is flagged in `ok`, for `parse_tick` to give the reason."""
    given = [tick.tick_size for tick in wire]
    distinct = set(given) - {None}
    if not distinct:
        return None
    canonical: dict[str | None, str | None] = {None: None}
    for text in distinct:
        try:
            canonical[text] = parse_tick_size(text).text
        except InvalidTick:
            canonical[text] = None
            ok &= np.array([size != text for size in given], dtype=bool)
    return [canonical[size] for size in given]


def _decode_or_none(value: bytes | None) -> WireTick | None:
    try:
        return _DECODE(value)  # type: ignore[arg-type]
    except _REFUSED:
        return None


def _with_slow(
    values: Sequence[bytes | None], columns: TickColumns, slow: list[int], now_ms: int, future_tolerance_s: float
) -> DecodedBatch:
    """`columns` plus what `parse_tick` accepts of the `slow` positions, in batch order."""
    accepted: list[tuple[int, Tick]] = []
    rejects: list[tuple[int, str]] = []
    for position in slow:
        value = values[position]
        try:
            if value is None:
                raise InvalidTick("no value (a tombstone)")
            accepted.append((position, parse_tick(value, now_ms=now_ms, future_tolerance_s=future_tolerance_s)))
        except InvalidTick as exc:
            rejects.append((position, str(exc)))
    if accepted:
        positions = np.concatenate((columns.positions, np.array([p for p, _ in accepted], dtype=np.int64)))
        order = np.argsort(positions, kind="stable")
        symbols = columns.symbols + [t.symbol for _, t in accepted]
        sizes: list[str | None] | None = None
        if columns.tick_sizes is not None or any(t.tick_size is not None for _, t in accepted):
            sizes = (columns.tick_sizes or [None] * len(columns)) + [t.tick_size for _, t in accepted]
        ordered = order.tolist()
        columns = TickColumns(
            positions[order],
            [symbols[i] for i in ordered],
            np.concatenate((columns.ts, np.array([t.ts for _, t in accepted], dtype=np.int64)))[order],
            np.concatenate((columns.price, np.array([t.price for _, t in accepted], dtype=np.float64)))[order],
            np.concatenate((columns.qty, np.array([t.qty for _, t in accepted], dtype=np.float64)))[order],
            None if sizes is None else [sizes[i] for i in ordered],
        )
    return DecodedBatch(columns, rejects)
