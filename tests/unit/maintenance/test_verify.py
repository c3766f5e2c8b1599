"""Pure parts of `db verify`: the window, its expected bars, comparison, table."""

from __future__ import annotations

import re
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from candleflow.domain.bars import Bar, aggregate
from candleflow.domain.fold import TickFolder
from candleflow.maintenance.verify import Window, compare, expected_bars, render

NOW = 1_732_406_400_000  # 2024-11-24T00:00:00Z


def test_a_window_must_not_be_empty() -> None:
    with pytest.raises(ValueError, match="not before"):
        Window(since=NOW, until=NOW)


ticks = st.lists(
    st.tuples(
        st.sampled_from(["Coinbase:BTC/USD", "Kraken:SOL/USD"]),
        st.integers(NOW - 3 * 86_400_000, NOW),
        st.floats(0.01, 1000, allow_nan=False).map(lambda p: round(p, 2)),
        st.floats(0, 10, allow_nan=False).map(lambda q: round(q, 4)),
    ),
    max_size=60,
)


@settings(max_examples=60)
@given(ticks, st.integers(1, 7), st.integers(NOW - 2 * 86_400_000, NOW), st.integers(NOW - 86_400_000, NOW + 1))
def test_the_expected_bars_are_the_aggregation_of_the_window(
    log: list[tuple[str, int, float, float]], batch: int, since: int, until: int
) -> None:
    window = Window(symbols=frozenset({"Coinbase:BTC/USD"}), since=since, until=max(until, since + 1))
    folder = TickFolder(symbols=window.symbols, since=window.since, now_ms=NOW)
    records = [
        (offset, orjson.dumps({"symbol": s, "ts": ts, "price": p, "qty": q}))
        for offset, (s, ts, p, q) in enumerate(log)
    ]
    records.insert(len(records) // 2, (len(records), b"{not json"))
    for start in range(0, len(records), batch):
        folder.add(records[start : start + batch])
    whole = aggregate([(s, ts, p, q, i) for i, (s, ts, p, q) in enumerate(log)])
    expected = {k: v for k, v in whole.items() if k[0] == "Coinbase:BTC/USD" and since <= k[2] < max(until, since + 1)}
    assert expected_bars(folder, window) == expected
    assert folder.invalid == 1


def bar(close: float = 2.0) -> Bar:
    return Bar(1.0, 3.0, 0.5, close, Decimal("1.5"), 2, NOW, 0, NOW + 1, 1)


def test_every_difference_is_listed_once() -> None:
    expected = {
        ("A:B/C", "1", NOW): bar(),
        ("A:B/C", "5", NOW): bar(),
        ("A:B/C", "1S", NOW): bar(),
        ("A:B/C", "1D", NOW): bar(),
    }
    stored = [
        (("A:B/C", "1", NOW), bar(close=2.5), "ticks"),
        (("A:B/C", "5", NOW), Bar(1.0, 3.0, 0.5, 2.0, Decimal("1.50"), 2, NOW, 0, NOW + 1, 1), "ticks"),
        (("A:B/C", "15", NOW), bar(), "ticks"),
        (("A:B/C", "1D", NOW), bar(), "rest"),
        (("A:B/C", "1W", NOW), bar(), "rest"),
    ]
    result = compare(expected, stored)
    found = [(d.resolution, d.kind, d.field) for d in result.differences]
    assert found == [("1S", "missing", "-"), ("1", "wrong", "close"), ("15", "extra", "-"), ("1D", "rest", "source")]
    table = render(result)
    assert re.search(r"A:B/C\s{2,}1\s{2,}2024-11-24T00:00:00Z\s{2,}wrong\s{2,}close\s{2,}2\.0\s{2,}2\.5", table)
    assert table.splitlines()[-1] == "4 bars differ (1 extra, 1 missing, 1 rest, 1 wrong) among 5 compared"
    assert render(compare({}, [])).startswith("no differences")
