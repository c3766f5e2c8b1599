"""`candleflow db verify`, second half: every stored indicator value and mark against a
plain recompute of the stored bars (`functions.recompute.whole`, the reference every
writer must equal), series by series.

Only registered functions are compared (rows of a function no longer configured are not
this check's business). Values are compared exactly: every writer computes the same
floats in the same order. A series is read whole (its values depend on every bar before
the window); memory is one series at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence

from candleflow.domain.bars import SeriesKey
from candleflow.functions.recompute import Computed, MarkRow, SeriesInput, compute
from candleflow.functions.registry import FunctionSet
from candleflow.store import series
from candleflow.store.connection import Connection

#: symbol, resolution, bucket ms, kind of difference, field, expected, actual (`verify.Difference`'s fields)
Difference = tuple[str, str, int, str, str, str, str]
InWindow = Callable[[int], bool]


def compare_series(
    key: SeriesKey,
    expected: Computed,
    values: dict[tuple[str, int, int], float],
    marks: Iterable[MarkRow],
    functions: FunctionSet,
    in_window: InWindow,
) -> tuple[int, list[Difference]]:
    """(values and marks compared, differences) of one series inside `window`."""
    symbol, resolution = key
    kinds = {ind.stored(line) for ind in functions.indicators for line in ind.outputs}
    signals = {signal.key for signal in functions.signals}
    want = {(k, p, b): v for k, p, b, v in expected.values if in_window(b)}
    have = {at: v for at, v in values.items() if at[:2] in kinds and in_window(at[2])}
    found: list[Difference] = []
    for at in sorted(want.keys() | have.keys(), key=lambda x: (x[2], x[0], x[1])):
        kind, period, bucket = at
        name = f"{kind}/{period}"
        if at not in have:
            found.append((symbol, resolution, bucket, "value missing", name, repr(want[at]), "-"))
        elif at not in want:
            found.append((symbol, resolution, bucket, "value extra", name, "-", repr(have[at])))
        elif want[at] != have[at]:
            found.append((symbol, resolution, bucket, "value wrong", name, repr(want[at]), repr(have[at])))
    want_marks = {(m.bucket, m.signal): m for m in expected.marks if in_window(m.bucket)}
    have_marks = {(m.bucket, m.signal): m for m in marks if m.signal in signals and in_window(m.bucket)}
    for mark_at in sorted(want_marks.keys() | have_marks.keys()):
        bucket, signal = mark_at
        wanted, stored = want_marks.get(mark_at), have_marks.get(mark_at)
        if wanted != stored:
            kind = "mark missing" if stored is None else "mark extra" if wanted is None else "mark wrong"
            found.append((symbol, resolution, bucket, kind, signal, _mark(wanted), _mark(stored)))
    return len(want.keys() | have.keys()) + len(want_marks.keys() | have_marks.keys()), found


def _mark(mark: MarkRow | None) -> str:
    return "-" if mark is None else f"{mark.kind} {mark.label!r} {mark.text!r} {mark.tone} @{mark.price!r}"


async def check(
    conn: Connection,
    functions: FunctionSet,
    symbols: Sequence[str] | None,
    since: int | None,
    until: int | None,
    *,
    skip: Collection[SeriesKey] = (),
) -> tuple[int, list[Difference]]:
    """Every series of `symbols` (None: all) but `skip`, buckets in `[since, until)`:
    (values and marks compared, differences)."""
    compared, found = 0, []

    def in_window(bucket: int) -> bool:
        return (since is None or bucket >= since) and (until is None or bucket < until)

    for key in await series.series_of(conn, symbols):
        if key in skip:
            continue
        (bars,) = await series.suffix_bars(conn, [(key, series.WHOLE_HISTORY)])
        expected = compute(functions, SeriesInput(key, 0, bars, 0, None))
        values = await series.stored_values(conn, key, since, until)
        marks = await series.stored_marks(conn, key, since, until)
        count, differences = compare_series(key, expected, values, marks, functions, in_window)
        compared += count
        found.extend(differences)
    return compared, found
