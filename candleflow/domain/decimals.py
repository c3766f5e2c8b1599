"""Exact decimals of float arrays: places, and sums of quantities, without a `Decimal` per tick.

A tick's quantity is the decimal its shortest text says (`Decimal(repr(qty))`), and a
bar's volume is the exact sum of those (`candleflow.domain.bars`). Converting every
tick costs more than the rest of its fold, so the common case is done on whole arrays:

* `places(x)`: the decimal places of each float's shortest text. A decimal with at most
  15 significant digits survives the trip to a float and back, and no other such decimal
  rounds to the same float; so when `k = rint(x * 10**d)` satisfies `k / 10**d == x`
  with `k < 10**15`, `k * 10**-d` *is* the value `repr(x)` writes, and the smallest such
  `d` is its number of places. Floats with more digits are left to `repr` (-1).
* `Volumes`: quantities with at most 8 places below 10**7 become integers of 10**-8
  (exact, summed as two 32-bit halves so no sum overflows); the rest, and -0.0, are
  summed as `Decimal(repr(q))`. Each sum carries the exponent that adding the ticks'
  decimals one by one gives (the smallest exponent among them), so the result equals
  the plain fold's `Decimal` digit for digit, not only in value.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import numpy.typing as npt

from candleflow.domain.bars import VOLUME_CONTEXT

#: Most places `places` finds; a float with more (or with over 15 significant digits) gets -1.
MOST_PLACES = 15
_LIMIT = 1e15
_POWERS = [10.0**d for d in range(MOST_PLACES + 1)]
#: Quantities summed as integers: at most this many places, below `_UNIT_LIMIT`.
UNIT_PLACES = 8
_UNIT = 10.0**UNIT_PLACES
_UNIT_LIMIT = _LIMIT / _UNIT
#: Below this, `repr` writes a float in exponent form ('5e-05'): no place is shown for zero.
_EXPONENT_FORM = 1e-4

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def places(x: Floats) -> npt.NDArray[np.int8]:
    """Decimal places of each value's shortest text (`repr`), -1 where not found here."""
    found = np.full(x.shape, -1, dtype=np.int8)
    open_ = np.ones(x.shape, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for d, power in enumerate(_POWERS):
            k = np.rint(x * power)
            hit = open_ & (k < _LIMIT) & (k / power == x)
            found[hit] = d
            open_ &= ~hit
            if not open_.any():
                break
    return found


class Volumes:
    """Exact volume sums of groups of quantities (`starts`: where each group begins in `qty`)."""

    def __init__(self, qty: Floats, starts: Ints) -> None:
        found = places(qty)
        with np.errstate(over="ignore", invalid="ignore"):
            units = np.rint(qty * _UNIT)
            exact = (found >= 0) & (found <= UNIT_PLACES) & (qty < _UNIT_LIMIT) & ~np.signbit(qty)
        whole = np.where(exact, units, 0.0).astype(np.int64)
        self._high = np.add.reduceat(whole >> 32, starts).tolist() if len(qty) else []
        self._low = np.add.reduceat(whole & 0xFFFFFFFF, starts).tolist() if len(qty) else []
        # the exponent each exact quantity's Decimal has ('0.5' -> -1, '2.0' -> -1, '5e-05' -> -5);
        # inexact ones do not take part in their group's integer sum (100: never the minimum)
        shown = np.where((qty > 0.0) & (qty < _EXPONENT_FORM), -found, -np.maximum(found, 1))
        exponents = np.where(exact, shown, 100).astype(np.int64)
        self._exponent = np.minimum.reduceat(exponents, starts).tolist() if len(qty) else []
        self._exact_count = np.add.reduceat(exact.astype(np.int64), starts).tolist() if len(qty) else []
        self._rest: dict[int, Decimal] = {}
        inexact = np.flatnonzero(~exact)
        if len(inexact):
            group_of = np.searchsorted(starts, inexact, side="right") - 1
            for position, group in zip(inexact.tolist(), group_of.tolist(), strict=True):
                amount = Decimal(repr(float(qty[position])))
                previous = self._rest.get(group)
                self._rest[group] = amount if previous is None else VOLUME_CONTEXT.add(previous, amount)

    def total(self, group: int) -> Decimal:
        """The exact sum of one group, written as adding its ticks one by one writes it."""
        rest = self._rest.get(group)
        if not self._exact_count[group]:
            assert rest is not None
            return rest
        units = (self._high[group] << 32) + self._low[group]
        exponent = self._exponent[group]
        summed = VOLUME_CONTEXT.scaleb(Decimal(units // 10 ** (UNIT_PLACES + exponent)), exponent)
        return summed if rest is None else VOLUME_CONTEXT.add(summed, rest)
