"""How many decimals a symbol's prices are shown with: TradingView's `pricescale` and `minmov`.

Two sources, the explicit one first:

* **A tick size.** A tick on `ticks.raw` may carry `"tick_size": "0.01"`, the exchange's
  price increment from its instrument list. It sets the symbol's pricescale and minmov
  outright: `0.01` -> pricescale 100, minmov 1; `0.05` -> 100 and 5; `5` -> 1 and 5.
  The latest tick carrying one wins (an exchange may change its increment), and a
  symbol keeps it when later ticks carry none.
* **The prices themselves.** Without a tick size, each symbol keeps a histogram of the
  decimal places of its recent prices (`counts[d]`: ticks written with `d` places, the
  last bucket also counting everything finer), and shows the fewest places that cover
  `SHARE` of them. One tick written `1e-15` among ordinary `97000.12`s no longer sets the
  scale for good (the old rule was the most places ever seen); a real change of scale (a
  coin whose price fell a hundredfold) shows once it makes up more than 1 - `SHARE` of
  the recent ticks. "Recent": when a symbol's histogram would hold more than `KEEP`
  ticks, what it held is halved before the new ticks are added, so old ticks fade.

`merge_counts` and `covering_decimals` are the rule; the store runs the same two steps
in SQL inside its symbols upsert (`candleflow_add_counts`, `candleflow_decimals`,
sql/007_engine_safety.sql) with these constants, and a test holds the two to each
other.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import NamedTuple

from candleflow.domain.exceptions import InvalidTick

#: Decimal places told apart: 0 .. BUCKETS - 1, the last also holding anything finer.
#: The web caps pricescale at 10^15 (what a chart can show), so finer is all one.
BUCKETS = 16
#: Share of recent ticks the shown decimals must cover.
SHARE = 0.95
#: Ticks a symbol's histogram holds before its old counts are halved.
KEEP = 10_000
#: The coarsest tick size accepted.
MAX_TICK_SIZE = 1_000_000
#: The finest tick size accepted: 10^-MAX_TICK_DECIMALS.
MAX_TICK_DECIMALS = BUCKETS - 1
#: The largest minmov (the tick size in units of its last decimal place: 0.25 -> 25): no
#: exchange's increment has more than a few significant digits, and the store's column
#: is an `integer`.
MAX_MINMOV = 1_000_000


class TickSize(NamedTuple):
    """A validated tick size: its canonical text, and the pricescale exponent and minmov it sets."""

    text: str
    decimals: int
    minmov: int


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


@lru_cache(maxsize=4096)
def _parse_text(text: str) -> TickSize:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidTick(f"tick_size is not a decimal number: {_shown(text)}") from None
    if not value.is_finite() or value <= 0 or value > MAX_TICK_SIZE:
        raise InvalidTick(f"tick_size must be > 0 and <= {MAX_TICK_SIZE}, got {_shown(text)}")
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    decimals = max(0, -exponent)
    if decimals > MAX_TICK_DECIMALS:
        raise InvalidTick(f"tick_size has more than {MAX_TICK_DECIMALS} decimal places: {_shown(text)}")
    minmov = int(value.scaleb(decimals))
    if minmov > MAX_MINMOV:
        raise InvalidTick(f"tick_size has more than {len(str(MAX_MINMOV)) - 1} significant digits: {_shown(text)}")
    return TickSize(format(value.normalize(), "f"), decimals, minmov)


def parse_tick_size(value: object) -> TickSize:
    """A tick's `tick_size` (a decimal string, or a JSON number) validated, or `InvalidTick`."""
    if type(value) is str:
        if len(value) > 64:
            raise InvalidTick(f"tick_size is not a decimal number: {_shown(value)}")
        return _parse_text(value)
    if type(value) is int or type(value) is float:
        return _parse_text(repr(value))
    raise InvalidTick(f'tick_size must be a decimal string such as "0.01", got {_shown(value)}')


def bucket(places: int) -> int:
    """The histogram bucket of a price written with `places` decimal places."""
    return min(max(places, 0), BUCKETS - 1)


def one_price(places: int) -> list[int]:
    """The histogram of a single price with `places` decimal places."""
    counts = [0] * BUCKETS
    counts[bucket(places)] = 1
    return counts


def merge_counts(held: Sequence[int], more: Sequence[int], keep: int = KEEP) -> list[int]:
    """`held` (halved first when both together exceed `keep` ticks) plus `more`."""
    halve = sum(held) + sum(more) > keep
    size = max(len(held), len(more))
    padded_held = [*held, *([0] * (size - len(held)))]
    padded_more = [*more, *([0] * (size - len(more)))]
    return [(h // 2 if halve else h) + m for h, m in zip(padded_held, padded_more, strict=True)]


def covering_decimals(counts: Sequence[int], share: float = SHARE) -> int:
    """The fewest decimal places that cover `share` of the counted prices (0 when none)."""
    total = sum(counts)
    if total <= 0:
        return 0
    running = 0
    for places, count in enumerate(counts):
        running += count
        if running >= share * total:
            return places
    return len(counts) - 1


def pricescale(decimals: int) -> int:
    """TradingView's pricescale for prices shown with `decimals` places."""
    return int(10 ** bucket(decimals))
