"""Symbol patterns and grants: what a token lets its holder read."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candleflow.access.exceptions import AccessDenied
from candleflow.access.grants import OPEN, Grant, check_pattern, matches

SYMBOL_CHARS = st.sampled_from("ABCXYZ019:/._-")
PATTERN_CHARS = st.sampled_from("ABCXYZ019:/._-*")


@given(st.text(PATTERN_CHARS, min_size=1, max_size=20), st.text(SYMBOL_CHARS, max_size=20))
def test_a_pattern_matches_as_a_shell_glob_of_star_only(pattern: str, symbol: str) -> None:
    assert matches(pattern, symbol) == fnmatch.fnmatchcase(symbol, pattern)


@pytest.mark.parametrize(
    ("pattern", "symbol", "expected"),
    [
        ("*", "Coinbase:BTC/USD", True),
        ("Coinbase:*", "Coinbase:BTC/USD", True),
        ("Coinbase:*", "Kraken:BTC/USD", False),
        ("*:BTC/*", "Kraken:BTC/EUR", True),
        ("*:BTC/*", "Kraken:ETH/BTC", False),
        ("Kraken:ETH/USD", "Kraken:ETH/USD", True),
        ("Kraken:ETH/USD", "Kraken:ETH/USDT", False),
        ("kraken:*", "Kraken:ETH/USD", False),
    ],
)
def test_patterns_name_markets(pattern: str, symbol: str, expected: bool) -> None:
    assert matches(pattern, symbol) is expected


@pytest.mark.parametrize("bad", ["", "Coin base:*", "a" * 101, "Coinbase:[AB]*", "x?y", 7, None])
def test_malformed_patterns_are_refused_with_the_rule(bad: object) -> None:
    with pytest.raises(ValueError, match="wildcards"):
        check_pattern(bad)


def test_a_grant_allows_only_its_symbols_and_says_which_it_refuses() -> None:
    grant = Grant(holder="alice", symbols=("Coinbase:*", "Kraken:ETH/USD"), expires=100.0)
    assert grant.allowed(["Coinbase:BTC/USD", "Kraken:BTC/USD", "Kraken:ETH/USD"]) == [
        "Coinbase:BTC/USD",
        "Kraken:ETH/USD",
    ]
    with pytest.raises(AccessDenied, match="Kraken:BTC/USD") as refused:
        grant.require("Kraken:BTC/USD")
    assert refused.value.status == 403
    assert grant.live_at(99.0)
    assert not grant.live_at(100.0)


def test_the_open_grant_allows_everything_forever() -> None:
    assert OPEN.allows("Anything:AT/ALL")
    assert OPEN.live_at(1e12)
    assert OPEN.admin
