"""SQL fragments every statement of the store shares: time conversions and the rule
that decides between a bar built from ticks and a REST backfill bar.

Times cross the boundary as integer ms since the epoch (UTC); the tables hold
`timestamptz`. `ms(expr)` turns an ms expression into a timestamptz, `epoch_ms(expr)`
a timestamptz expression into ms.
"""

from __future__ import annotations

import re

from candleflow.domain.bars import BAR_FIELDS

#: The columns of a stored bar's row in `bars` (and `rebuild_bars`) that the bar carries.
BAR_COLUMNS = ("symbol", "resolution", "bucket", *BAR_FIELDS)


def ms(expr: str) -> str:
    """The timestamptz of the ms-since-epoch SQL expression `expr`."""
    return f"timestamptz 'epoch' + {expr} * interval '1 millisecond'"


def epoch_ms(expr: str) -> str:
    """The ms since the epoch (bigint) of the timestamptz SQL expression `expr`."""
    return f"(extract(epoch from {expr}) * 1000)::bigint"


def shifted(statement: str, by: int) -> str:
    """`statement` with its parameters `$1, $2, …` renumbered `$(1 + by), …`: the same
    statement as a data-modifying CTE of a statement that has `by` parameters of its own,
    so that several writes cost one round trip and each is still written once."""
    return re.sub(r"\$(\d+)", lambda m: f"${int(m.group(1)) + by}", statement)


#: Bar sources (`bars.source`): built from the tick log, or written by a REST backfill.
TICKS = "ticks"
REST = "rest"

#: Ticks win: where a tick bar and a REST bar meet in one bucket, the tick bar is kept.
#: Upserts alias the stored row `b`; this is true when the stored bar is not from ticks,
#: so an upsert of tick bars replaces it whole, and an upsert of REST bars may touch it.
STORED_IS_REST = f"b.source <> '{TICKS}'"
