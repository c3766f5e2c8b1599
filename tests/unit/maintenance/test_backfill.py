"""Pure parts of the backfill: row filtering, roll-ups, paging plans and stop rules."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from candleflow.domain.bars import Bar, roll_into
from candleflow.domain.resolution import BY_CODE, Resolution
from candleflow.maintenance.backfill.run import (
    PHASES,
    RestBars,
    Segment,
    Span,
    align_since,
    bars_of,
    before,
    history_ends,
    new_rows_down,
    newest_row,
    next_up_to_ts,
    segments,
    whole,
)
from candleflow.sources.cryptocompare_rest import HistoryRow, Page

DAY = 86_400
START = 1_704_067_200  # 2024-01-01T00:00Z, Monday


def row(time: int, close: float = 10.0, volume: str = "1") -> HistoryRow:
    return HistoryRow(time, close, close + 1, close - 1, close, Decimal(volume))


SYMBOL = "Coinbase:BTC/USD"


def rest(
    bucket_s: int, open: float, high: float, low: float, close: float, volume: Decimal
) -> tuple[tuple[str, int], Bar]:
    return (SYMBOL, bucket_s * 1000), Bar.of_rest(bucket_s * 1000, open, high, low, close, volume)


def ohlcv(bars: RestBars) -> list[tuple[int, float, float, float, float, Decimal, int]]:
    return [(k[1] // 1000, b.open, b.high, b.low, b.close, b.volume, b.trades) for k, b in bars.items()]


def roll_up(bars: RestBars, resolution: Resolution) -> RestBars:
    return roll_into(resolution, bars)


def test_filler_rows_are_dropped_and_times_become_ms() -> None:
    bars = bars_of(SYMBOL, [row(START + 60), row(START, volume="0"), row(START + 120, close=0.0)])
    assert list(bars) == [(SYMBOL, (START + 60) * 1000)]


def test_roll_up_takes_first_open_last_close_extremes_and_summed_volume() -> None:
    minutes = dict(rest(START + i * 60, 10.0 + i, 20.0 + i, 5.0 - i, 11.0 + i, Decimal("0.1")) for i in range(7))
    assert ohlcv(roll_up(minutes, BY_CODE["5"])) == [
        (START, 10.0, 24.0, 1.0, 15.0, Decimal("0.5"), 0),
        (START + 300, 15.0, 26.0, -1.0, 17.0, Decimal("0.2"), 0),
    ]


@given(st.lists(st.integers(0, 5 * DAY // 60), unique=True, min_size=1, max_size=200))
def test_rolling_up_in_steps_equals_rolling_up_at_once(minutes: list[int]) -> None:
    bars = dict(
        rest(START + m * 60, float(m % 7 + 1), float(m % 7 + 2), float(m % 7), float(m % 5 + 1), Decimal(m))
        for m in sorted(minutes)
    )
    for code, parent in (("15", "5"), ("60", "15"), ("240", "60"), ("1D", "240")):
        assert ohlcv(roll_up(roll_up(bars, BY_CODE[parent]), BY_CODE[code])) == ohlcv(roll_up(bars, BY_CODE[code]))


def test_only_whole_buckets_before_the_limit_are_kept() -> None:
    hours = dict(rest(START + h * 3600, 1.0, 1.0, 1.0, 1.0, Decimal(1)) for h in range(0, 13))
    four = roll_up(hours, BY_CODE["240"])
    kept = whole(four, BY_CODE["240"], (START + 3600) * 1000, (START + 13 * 3600) * 1000)
    assert [k[1] // 1000 for k in kept] == [START + 4 * 3600, START + 8 * 3600]
    assert list(before(kept, (START + 8 * 3600) * 1000)) == list(kept)[:1]
    assert before(kept, None) == kept


def test_since_is_floored_to_whole_roll_up_buckets() -> None:
    ms = (START + 9 * DAY + 5 * 3600 + 17) * 1000  # Wednesday 2024-01-10 05:00:17
    assert align_since(PHASES["minute"], ms) == (START + 9 * DAY + 4 * 3600) * 1000
    assert align_since(PHASES["day"], ms) == START * 1000  # the month (and week 2's Monday is later)
    assert align_since(PHASES["day"], (START + 40 * DAY) * 1000) == (START + 35 * DAY - 4 * DAY) * 1000


def test_newest_row_ends_by_until_and_starts_before_the_first_tick_bar() -> None:
    assert newest_row(60, (START + 600) * 1000 + 5, None) == START + 540
    assert newest_row(60, (START + 600) * 1000, (START + 300) * 1000) == START + 240
    assert newest_row(60, (START + 600) * 1000, (START + 301) * 1000) == START + 300


def test_segments_cover_what_the_stored_span_does_not() -> None:
    assert segments(None, 100, 1000, 10) == [Segment("down", 1000, 100, fresh=True)]
    assert segments(Span(500, 800), 100, 1000, 10) == [Segment("up", 800, 1000), Segment("down", 500, 100)]
    assert segments(Span(100, 1000), 100, 1000, 10) == []
    assert segments(Span(2000, 3000), 100, 1000, 10) == [Segment("down", 1000, 100, fresh=True)]
    assert segments(None, 100, 50, 10) == []
    assert next_up_to_ts(800, 1000, 10, limit=5) == 850
    assert next_up_to_ts(990, 1000, 10, limit=5) == 1000


def test_paging_down_dedupes_the_overlap_row_and_stops_at_the_bottom() -> None:
    page = Page([row(t) for t in range(100, 201, 10)], 100, 200)
    new = new_rows_down(page, 200, 50, 10_000)
    assert [r.time for r in new] == list(range(100, 200, 10))  # 200 was the previous page's oldest
    assert not history_ends(new, page, 50)
    assert history_ends(new, page, 100)
    assert history_ends([], Page([row(200)], 200, 200), 50)
    zeros = [row(t, volume="0") for t in range(100, 200, 10)]
    assert history_ends(zeros, Page(zeros, 100, 190), 50)
