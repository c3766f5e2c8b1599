"""Symbols are written `Exchange:BASE/QUOTE`, e.g. `Coinbase:BTC/USD` or `CCCAGG:ETH/USD`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from candleflow.domain.exceptions import InvalidSymbol

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
    price decimals, and the first and last time seen (ms)."""

    decimals: int
    first: int
    last: int

    def widen(self, other: SymbolSeen) -> None:
        """Take in what `other` saw too."""
        self.decimals = max(self.decimals, other.decimals)
        self.first = min(self.first, other.first)
        self.last = max(self.last, other.last)
