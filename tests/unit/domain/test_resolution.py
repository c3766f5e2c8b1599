from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candleflow.domain.exceptions import InvalidResolution
from candleflow.domain.resolution import SPELLINGS, SUPPORTED, SUPPORTED_CODES, parse_resolution

MS_2009 = 1_230_768_000_000
MS_2100 = 4_102_444_800_000
times = st.integers(min_value=MS_2009, max_value=MS_2100)


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1S", "1S"),
        ("S", "1S"),
        ("1", "1"),
        ("5", "5"),
        ("60", "60"),
        ("240", "240"),
        ("D", "1D"),
        ("1D", "1D"),
        ("W", "1W"),
        ("1W", "1W"),
        ("M", "1M"),
        ("1M", "1M"),
    ],
)
def test_both_spellings_parse_to_the_canonical_code(text: str, code: str) -> None:
    assert parse_resolution(text).code == code


@pytest.mark.parametrize("text", ["", "0", "3", "2D", "abc", "1Y", "-5", "5.5", "1SS", "12M"])
def test_unknown_or_unsupported_resolutions_are_errors(text: str) -> None:
    with pytest.raises(InvalidResolution, match="supported: 1S, 1, 5"):
        parse_resolution(text)


@pytest.mark.parametrize(
    ("text", "advice"),
    [
        ("1m", "resolution '1m' is ambiguous: minutes are plain numbers, `1`; a month is `1M`"),
        ("m", "resolution 'm' is ambiguous: minutes are plain numbers, `1`; a month is `1M`"),
        ("5m", "resolution '5m' is ambiguous: minutes are plain numbers, `5`; a month is `1M`"),
        ("1h", "resolution '1h' is not a TradingView resolution: hours are written in minutes, `60`"),
        ("4H", "resolution '4H' is not a TradingView resolution: hours are written in minutes, `240`"),
        ("2h", "resolution '2h' is not supported: hours are written in minutes, `60` (1 hour), `240` (4 hours)"),
        ("1d", "resolution '1d' is not a TradingView spelling: write `1D` (1 day)"),
        ("w", "resolution 'w' is not a TradingView spelling: write `1W` (1 week)"),
        ("1s", "resolution '1s' is not a TradingView spelling: write `1S` (1 second)"),
        ("15min", "resolution '15min' is not a TradingView spelling: write `15` (15 minutes)"),
        ("1 month", "resolution '1 month' is not a TradingView spelling: write `1M` (1 month)"),
        ("01", "resolution '01' is not a TradingView spelling: write `1` (1 minute)"),
        (" 15 ", "resolution ' 15 ' has spaces around it: write `15`"),
    ],
)
def test_a_spelling_with_one_meaning_elsewhere_is_refused_with_the_one_to_use(text: str, advice: str) -> None:
    """One spelling per meaning: `1m` is a minute on some sites and a month on TradingView,
    so it is neither; every refusal names what to write."""
    with pytest.raises(InvalidResolution) as refused:
        parse_resolution(text)
    assert str(refused.value) == advice


def test_every_spelling_names_one_resolution_and_each_resolution_has_its_code() -> None:
    assert list(SPELLINGS) == ["1S", "S", "1", "5", "15", "30", "60", "240", "1D", "D", "1W", "W", "1M", "M"]
    assert all(parse_resolution(code).code == code for code in SUPPORTED_CODES)
    names = "1 second, 1 minute, 5 minutes, 15 minutes, 30 minutes, 1 hour, 4 hours, 1 day, 1 week, 1 month"
    assert ", ".join(r.name for r in SUPPORTED) == names


def test_supported_codes_are_the_documented_set() -> None:
    assert SUPPORTED_CODES == ("1S", "1", "5", "15", "30", "60", "240", "1D", "1W", "1M")


@given(times)
def test_intraday_floor_matches_datetime_arithmetic(ms: int) -> None:
    moment = utc(ms)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    for resolution in SUPPORTED[:7]:
        step = resolution.fixed_ms
        bucket = resolution.floor(ms)
        assert bucket <= ms < bucket + step
        assert (utc(bucket) - midnight) % timedelta(milliseconds=step) == timedelta(0)


@given(times)
def test_day_week_month_boundaries(ms: int) -> None:
    moment = utc(ms)
    day = parse_resolution("D").floor(ms)
    assert utc(day) == moment.replace(hour=0, minute=0, second=0, microsecond=0)
    week = utc(parse_resolution("W").floor(ms))
    assert week.weekday() == 0 and week.time().isoformat() == "00:00:00"
    assert timedelta(0) <= moment - week < timedelta(days=7)
    month = utc(parse_resolution("M").floor(ms))
    assert (month.year, month.month, month.day) == (moment.year, moment.month, 1)
    assert month.time().isoformat() == "00:00:00"


@given(times)
def test_next_bucket_is_the_floor_of_the_next_period(ms: int) -> None:
    for resolution in SUPPORTED:
        bucket = resolution.floor(ms)
        following = resolution.next(bucket)
        assert following > ms
        assert resolution.floor(following) == following
        assert resolution.floor(following - 1) == bucket
