"""Parameter validation of the web layer: every bad value is a UdfError 400."""

from __future__ import annotations

import pytest

from candleflow.resolution import parse_resolution
from candleflow.web import params
from candleflow.web.errors import UdfError

MINUTE = parse_resolution("1")


def test_integer_accepts_plain_and_zero_fraction() -> None:
    assert params.integer({"to": "1700000000"}, "to") == 1_700_000_000
    assert params.integer({"to": "-5"}, "to") == -5
    assert params.integer({"to": "12.0"}, "to") == 12
    assert params.integer({}, "countback", default=0) == 0


@pytest.mark.parametrize("raw", ["x", "1.5", "1e9", "", "0x10", "9" * 21, "١٢"])
def test_integer_rejects(raw: str) -> None:
    with pytest.raises(UdfError) as caught:
        params.integer({"to": raw}, "to")
    assert caught.value.status == 400
    assert "to" in caught.value.message


def test_integer_bounds() -> None:
    with pytest.raises(UdfError, match="below 1"):
        params.integer({"limit": "0"}, "limit", minimum=1)
    with pytest.raises(UdfError, match="above 5"):
        params.integer({"limit": "6"}, "limit", maximum=5)


def test_text() -> None:
    assert params.text({"symbol": " Coinbase:BTC/USD "}, "symbol") == "Coinbase:BTC/USD"
    assert params.text({}, "query", required=False) == ""
    with pytest.raises(UdfError, match="missing parameter symbol"):
        params.text({"symbol": "  "}, "symbol")
    with pytest.raises(UdfError, match="longer"):
        params.text({"symbol": "x" * 201}, "symbol")
    with pytest.raises(UdfError, match="NUL"):
        params.text({"symbol": "a\x00b"}, "symbol")


@pytest.mark.parametrize(
    ("raw", "code"), [("D", "1D"), ("1D", "1D"), ("w", "1W"), ("M", "1M"), ("60", "60"), ("S", "1S")]
)
def test_resolution_spellings(raw: str, code: str) -> None:
    assert params.resolution({"resolution": raw}).code == code


@pytest.mark.parametrize("raw", ["7", "2D", "1H", "abc", ""])
def test_resolution_rejects(raw: str) -> None:
    with pytest.raises(UdfError) as caught:
        params.resolution({"resolution": raw})
    assert caught.value.status == 400


def rng(**query: str) -> params.TimeRange:
    return params.time_range(query, MINUTE, max_countback=1000, max_span_bars=100)


def test_time_range() -> None:
    assert rng(**{"from": "60", "to": "120"}) == params.TimeRange(60, 120, 0)
    assert rng(to="6000", countback="10") == params.TimeRange(6000, 6000, 10)
    assert rng(**{"from": "-100", "to": "10"}) == params.TimeRange(0, 10, 0)


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({"to": "10"}, "missing parameter from"),
        ({"from": "20", "to": "10"}, "after"),
        ({"from": "0", "to": "6001"}, "spans"),
        ({"from": "0", "to": "10", "countback": "1001"}, "limit of 1000"),
        ({"from": "0", "to": "10", "countback": "-1"}, "below 0"),
    ],
)
def test_time_range_rejects(query: dict[str, str], fragment: str) -> None:
    with pytest.raises(UdfError, match=fragment):
        rng(**query)


def test_span_of_months_uses_an_average_month() -> None:
    month = parse_resolution("1M")
    assert params.span_seconds(month) == params.MONTH_S
    assert params.span_seconds(parse_resolution("1W")) == 7 * 86400
