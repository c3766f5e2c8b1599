"""Symbols are written `Exchange:BASE/QUOTE`, e.g. `Coinbase:BTC/USD` or `CCCAGG:ETH/USD`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from candleflow.domain.exceptions import InvalidSymbol
from candleflow.domain.pricescale import TickSize, merge_counts, one_price

_SYMBOL = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.\-]{0,31}):([A-Z0-9]{1,16})/([A-Z0-9]{1,16})")
#: The characters symbols are written with, any case (what web parameters naming one accept).
CHARACTERS = r"[A-Za-z0-9_.:/\-]"
#: The longest symbol there is: exchange, `:`, base, `/`, quote.
MAX_LENGTH = 32 + 1 + 16 + 1 + 16


class Symbol(NamedTuple):
    exchange: str
    base: str
    quote: str

    def __str__(self) -> str:
        return f"{self.exchange}:{self.base}/{self.quote}"


def parse_symbol(text: str) -> Symbol:
    """Split a symbol into exchange, base and quote, or raise `InvalidSymbol`."""
    match = _SYMBOL.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidSymbol(f"symbol {text!r} is not written Exchange:BASE/QUOTE (e.g. Coinbase:BTC/USD)")
    return Symbol(*match.groups())


_KNOWN: set[str] = set()
_KNOWN_LIMIT = 100_000


def is_symbol(text: object) -> bool:
    """Whether `text` is a well-formed symbol (remembering the good ones: this runs per tick)."""
    if type(text) is not str:
        return False
    if text in _KNOWN:
        return True
    if _SYMBOL.fullmatch(text) is None:
        return False
    if len(_KNOWN) < _KNOWN_LIMIT:
        _KNOWN.add(text)
    return True


@dataclass(slots=True)
class SymbolSeen:
    """What the ticks (or REST bars) of one symbol tell the `symbols` table: the most
    price decimals, the first and last time seen (ms), how many prices had each number
    of decimals (`counts`; None: one price with `decimals`) and the tick size of the
    latest tick that carried one (`candleflow.domain.pricescale`)."""

    decimals: int
    first: int
    last: int
    counts: list[int] | None = None
    tick: TickSize | None = None

    def histogram(self) -> list[int]:
        """`counts`, or the histogram of one price with `decimals` places."""
        return list(self.counts) if self.counts is not None else one_price(self.decimals)

    def widen(self, other: SymbolSeen) -> None:
        """Take in what `other` saw too (`other` saw the later ticks: its tick size wins)."""
        self.counts = merge_counts(self.histogram(), other.histogram(), keep=2**62)
        self.decimals = max(self.decimals, other.decimals)
        self.first = min(self.first, other.first)
        self.last = max(self.last, other.last)
        if other.tick is not None:
            self.tick = other.tick
