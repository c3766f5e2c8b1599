"""SQL fragments every statement of the store shares: time conversions and the rule
that decides between a bar built from ticks and a REST backfill bar.

Times cross the boundary as integer ms since the epoch (UTC); the tables hold
`timestamptz`. `ms(expr)` turns an ms expression into a timestamptz, `epoch_ms(expr)`
a timestamptz expression into ms.
"""

from __future__ import annotations


def ms(expr: str) -> str:
    """The timestamptz of the ms-since-epoch SQL expression `expr`."""
    return f"timestamptz 'epoch' + {expr} * interval '1 millisecond'"


def epoch_ms(expr: str) -> str:
    """The ms since the epoch (bigint) of the timestamptz SQL expression `expr`."""
    return f"(extract(epoch from {expr}) * 1000)::bigint"


#: Bar sources (`bars.source`): built from the tick log, or written by a REST backfill.
TICKS = "ticks"
REST = "rest"

#: Ticks win: where a tick bar and a REST bar meet in one bucket, the tick bar is kept.
#: Upserts alias the stored row `b`; this is true when the stored bar is not from ticks,
#: so an upsert of tick bars replaces it whole, and an upsert of REST bars may touch it.
STORED_IS_REST = f"b.source <> '{TICKS}'"
