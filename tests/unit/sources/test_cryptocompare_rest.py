"""Parsing CryptoCompare's history answers and the retry schedule."""

from __future__ import annotations

from decimal import Decimal

import pytest

from candleflow.sources.cryptocompare_rest import (
    HistoryRow,
    RateLimited,
    RestError,
    Retry,
    is_rate_limit,
    parse_history,
)


def answer(rows: list[dict[str, object]]) -> dict[str, object]:
    return {"Response": "Success", "Data": {"TimeFrom": 60, "TimeTo": 120, "Data": rows}}


def test_rows_are_parsed_sorted_with_exact_volumes() -> None:
    page = parse_history(
        answer(
            [
                {"time": 120, "open": 2, "high": 3.5, "low": 1.25, "close": 3, "volumefrom": 0.1, "volumeto": 9},
                {"time": 60, "open": 1, "high": 2, "low": 1, "close": 2, "volumefrom": 4, "volumeto": 8},
            ]
        )
    )
    assert page.time_from == 60 and page.time_to == 120
    assert page.rows == [
        HistoryRow(60, 1.0, 2.0, 1.0, 2.0, Decimal(4)),
        HistoryRow(120, 2.0, 3.5, 1.25, 3.0, Decimal("0.1")),
    ]
    assert all(r.traded for r in page.rows)


def test_filler_rows_are_not_traded() -> None:
    page = parse_history(answer([{"time": 60, "open": 0, "high": 0, "low": 0, "close": 0, "volumefrom": 0}]))
    assert not page.rows[0].traded


def test_error_answers_raise_rate_limits_apart() -> None:
    with pytest.raises(RateLimited):
        parse_history({"Response": "Error", "Message": "You are over your rate limit please upgrade your account!"})
    with pytest.raises(RestError, match="market does not exist") as caught:
        parse_history({"Response": "Error", "Message": "market does not exist for this coin pair"})
    assert not isinstance(caught.value, RateLimited)
    assert is_rate_limit("Too Many Requests")


@pytest.mark.parametrize(
    "payload",
    [[], {"Response": "Success"}, answer([{"time": "x"}]), answer([{"time": 1, "open": "a"}])],
)
def test_malformed_answers_are_errors(payload: object) -> None:
    with pytest.raises(RestError):
        parse_history(payload)


def test_retry_delays_double_up_to_the_cap() -> None:
    retry = Retry(attempts=6, initial=0.5, cap=3.0)
    assert [retry.delay(a) for a in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
