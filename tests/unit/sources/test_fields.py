"""Reading venue fields: numbers, ids, RFC 3339 times, increments."""

from __future__ import annotations

import pytest

from candleflow.domain.exceptions import InvalidTick
from candleflow.sources.exchanges import fields


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2019-08-14T20:42:27.265Z", 1565815347265),
        ("2023-09-25T07:48:36.925533Z", 1695628116925),
        ("2023-02-09T20:19:35.39625135Z", 1675973975396),
        ("2023-02-09T20:19:35Z", 1675973975000),
        ("2023-02-09T20:19:35.1+00:00", 1675973975100),
        ("2023-02-09T22:19:35.1+02:00", 1675973975100),
    ],
)
def test_rfc3339_to_milliseconds_truncates(text: str, ms: int) -> None:
    assert fields.rfc3339_ms(text) == ms


@pytest.mark.parametrize("text", ["2023-02-09 20:19", "2023-02-09T20:19:35", 1675973975, "x" * 25])
def test_other_times_are_refused(text: object) -> None:
    with pytest.raises(InvalidTick):
        fields.rfc3339_ms(text)


def test_numbers_ids_and_ticks() -> None:
    assert fields.number("97000.5", "price") == 97000.5
    assert fields.number(3, "qty") == 3.0
    for bad in ("nan", "1e999", None, True, "x"):
        with pytest.raises(InvalidTick):
            fields.number(bad, "price")
    assert fields.trade_id(12) == "12"
    with pytest.raises(InvalidTick):
        fields.trade_id("")
    with pytest.raises(InvalidTick, match="price must be > 0"):
        fields.tick("A:B/C", 1_700_000_000_000, 0.0, 1.0, "buy", "1")
    with pytest.raises(InvalidTick, match="in the future"):
        fields.tick("A:B/C", 1_700_000_000_000, 1.0, 1.0, "buy", "1", now_ms=1_600_000_000_000)


@pytest.mark.parametrize(
    ("value", "text"),
    [("0.01000000", "0.01"), (0.1, "0.1"), ("1e-05", "0.00001"), ("5", "5"), ("0", None), ("x", None)],
)
def test_increments_are_plain_decimal_text(value: object, text: str | None) -> None:
    assert fields.increment(value) == text
