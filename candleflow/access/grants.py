"""`Grant`: what one token allows its holder to read, and how symbol patterns match.

A grant names its holder (the token's `sub`), the symbols it may read as patterns, its
expiry, and whether it opens the admin surface. A pattern is a symbol in which `*`
stands for any run of characters: `*` (every symbol), `Coinbase:*` (one exchange),
`*:BTC/*` (one base asset anywhere), `Kraken:ETH/USD` (one market). Patterns are matched
against the canonical stored symbol, never against what a client typed, so an alias
(`BTC/USD`) cannot reach a market its grant does not name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from candleflow.access.exceptions import AccessDenied

#: Longest pattern accepted (a symbol is at most 66 characters; a little room for `*`).
MAX_PATTERN_LENGTH = 100
#: Most patterns one grant may carry (a token is read on every request).
MAX_PATTERNS = 256
_PATTERN = re.compile(rf"[A-Za-z0-9_.:/\-*]{{1,{MAX_PATTERN_LENGTH}}}")


def check_pattern(pattern: object) -> str:
    """`pattern` if it is a well-formed symbol pattern, else `ValueError` saying why."""
    if not isinstance(pattern, str) or not _PATTERN.fullmatch(pattern):
        raise ValueError(
            f"symbol pattern {pattern!r} is not a symbol with optional * wildcards "
            f"(e.g. Coinbase:BTC/USD, Coinbase:*, *), at most {MAX_PATTERN_LENGTH} characters"
        )
    return pattern


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def matches(pattern: str, symbol: str) -> bool:
    """Whether `symbol` is one of the symbols `pattern` names."""
    if pattern == "*":
        return True
    if "*" not in pattern:
        return pattern == symbol
    return _compiled(pattern).fullmatch(symbol) is not None


@dataclass(frozen=True, slots=True)
class Grant:
    holder: str
    symbols: tuple[str, ...]
    #: Unix seconds after which the grant is void; None: never (the open grant only).
    expires: float | None = None
    admin: bool = False

    def allows(self, symbol: str) -> bool:
        return any(matches(pattern, symbol) for pattern in self.symbols)

    def allowed(self, symbols: Iterable[str]) -> list[str]:
        """Those of `symbols` this grant may read, in their order."""
        return [symbol for symbol in symbols if self.allows(symbol)]

    def require(self, symbol: str) -> None:
        """Raise `AccessDenied` (403) unless this grant may read `symbol`."""
        if not self.allows(symbol):
            raise AccessDenied(f"your access token does not allow {symbol}", 403)

    def live_at(self, now: float) -> bool:
        return self.expires is None or now < self.expires


#: What every request holds when access control is off.
OPEN = Grant(holder="", symbols=("*",), expires=None, admin=True)
#: What a request holds that no guard has seen: nothing.
NOTHING = Grant(holder="", symbols=(), expires=0.0, admin=False)
