"""Parameter declarations of the web layer: what `Param.read` accepts is exactly what its
OpenAPI schema allows, and every refusal is a UdfError 400 naming the parameter."""

from __future__ import annotations

import re
from typing import Any

import pytest
from multidict import MultiDict

from candleflow.domain.resolution import SUPPORTED, parse_resolution
from candleflow.web import params
from candleflow.web.errors import UdfError
from candleflow.web.params import Param, Query

TO = params.TO
LIMIT = Param("limit", "doc", type="integer", minimum=1, maximum=5)
KIND = Param("kind", "doc", required=True, enum=("sma", "ema"))
PERIOD = Param("period", "doc", type="integer", required=True, enum=(20, 50), minimum=20, maximum=50)
HISTORY = Query(params.SYMBOL, params.RESOLUTION, params.FROM, params.TO, params.countback(1000))


def refused(param: Param, raw: str) -> UdfError:
    with pytest.raises(UdfError) as caught:
        param.read({param.name: raw})
    assert caught.value.status == 400
    assert param.name in caught.value.message
    return caught.value


@pytest.mark.parametrize(("raw", "value"), [("1700000000", 1_700_000_000), ("-5", -5), ("12.0", 12), ("1.2e1", 12)])
def test_integer_accepts_json_integers(raw: str, value: int) -> None:
    assert TO.read({"to": raw}) == value


@pytest.mark.parametrize("raw", ["x", "1.5", "", " 1", "+1", "012", "0x10", "9" * 21, "١٢", "1e400", "true"])
def test_integer_refuses_what_json_schema_calls_no_integer_or_out_of_range(raw: str) -> None:
    refused(TO, raw)


def test_integer_bounds_are_the_declared_ones() -> None:
    assert "below 1" in refused(LIMIT, "0").message
    assert "above 5" in refused(LIMIT, "6").message
    assert LIMIT.schema() == {"type": "integer", "minimum": 1, "maximum": 5}


def test_every_integer_declares_its_range() -> None:
    with pytest.raises(ValueError, match="minimum and a maximum"):
        Param("n", "doc", type="integer")


def test_strings_are_taken_as_sent_and_never_hold_nul() -> None:
    assert params.SYMBOL.read({"symbol": "coinbase:btc/usd"}) == "coinbase:btc/usd"
    assert params.SYMBOL.read({"symbol": "BTC/USD"}) == "BTC/USD"
    assert "missing parameter symbol" in refused(params.SYMBOL, "").message
    assert "longer" in refused(params.SYMBOL, "x" * 201).message
    assert "malformed" in refused(params.SYMBOL, " Coinbase:BTC/USD ").message
    query = Param("query", "doc")
    assert query.read({"query": " any text "}) == " any text "
    assert "NUL" in refused(query, "a\x00b").message
    with pytest.raises(UdfError, match="missing parameter symbol"):
        params.SYMBOL.read({})
    assert Param("query", "doc").read({}) is None


def test_repeated_parameter_is_refused() -> None:
    with pytest.raises(UdfError, match="more than once"):
        params.SYMBOL.read(MultiDict([("symbol", "a"), ("symbol", "b")]))
    query = [("symbol", "BTC/USD"), ("resolution", "1"), ("to", "10"), ("countback", "5")]
    with pytest.raises(UdfError, match="parameter countback is given more than once"):
        HISTORY.read(MultiDict([*query, ("countback", "6")]))
    # A name no endpoint declares may repeat (cache busters such as `_`).
    values = HISTORY.read(MultiDict([*query, ("_", "1"), ("_", "2")]))
    assert (values.text("symbol"), values.integer("countback", 0)) == ("BTC/USD", 5)


def test_enums() -> None:
    assert KIND.read({"kind": "ema"}) == "ema"
    assert "not one of sma, ema" in refused(KIND, "SMA").message
    assert PERIOD.read({"period": "50"}) == 50
    refused(PERIOD, "30")
    assert PERIOD.schema() == {"type": "integer", "enum": [20, 50]}


def test_every_declared_resolution_spelling_parses_and_nothing_else_is_accepted() -> None:
    spellings = params.RESOLUTION.enum
    assert spellings is not None
    for spelling in spellings:
        assert isinstance(spelling, str)
        assert parse_resolution(spelling) in SUPPORTED
    assert {parse_resolution(str(s)) for s in spellings} == set(SUPPORTED)
    for raw in ["D", "W", "M", "60", "S", "1S", "1D"]:
        assert params.RESOLUTION.read({"resolution": raw}) == raw
    for raw in ["7", "2D", "1H", "abc", "", " 1", "01", "1d", "w", "1s", "1m", "4h"]:
        refused(params.RESOLUTION, raw)
    assert refused(params.RESOLUTION, "1m").message == (
        "resolution '1m' is ambiguous: minutes are plain numbers, `1`; a month is `1M`"
    )
    assert "`240`" in refused(params.RESOLUTION, "4h").message
    assert params.RESOLUTION.schema()["enum"] == [
        "1S",
        "S",
        "1",
        "5",
        "15",
        "30",
        "60",
        "240",
        "1D",
        "D",
        "1W",
        "W",
        "1M",
        "M",
    ]


@pytest.mark.parametrize(
    "param", [params.SYMBOL, Param("q", "doc"), Param("q", "doc", pattern=r"[a-z]{0,3}(?:,[a-z]{0,3}){0,2}")]
)
def test_string_schema_pattern_is_the_pattern_read_applies(param: Param) -> None:
    schema = param.schema()
    ecma = re.compile(schema["pattern"])
    for raw in ["", "abc", "ab,c", "a,b,c,d", "ABC", "a\x00", "x" * 5, "a:b/c", "ab/c", " a/b", "x" * 300]:
        by_schema = bool(ecma.search(raw)) and schema["minLength"] <= len(raw) <= schema["maxLength"]
        try:
            param.read({param.name: raw})
            accepted = True
        except UdfError:
            accepted = False
        assert accepted == by_schema, raw


def read_range(**query: str) -> params.TimeRange:
    return params.time_range(HISTORY.read({"symbol": "X:S/U", "resolution": "1", **query}))


def test_time_range() -> None:
    assert read_range(**{"from": "60", "to": "120"}) == params.TimeRange(60, 120, 0)
    assert read_range(to="6000", countback="10") == params.TimeRange(6000, 6000, 10)
    assert read_range(**{"from": "-100", "to": "10"}) == params.TimeRange(0, 10, 0)
    # `from` after `to`, or absent: an empty range, never an error
    assert read_range(**{"from": "20", "to": "10"}) == params.TimeRange(10, 10, 0)
    assert read_range(to="10") == params.TimeRange(10, 10, 0)
    # no span is refused here: from 0 to ten years ahead is a valid request
    assert read_range(**{"from": "0", "to": str(2_100_000_000)}, countback="300").countback == 300


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({}, "missing parameter to"),
        ({"from": "0", "to": "10", "countback": "1001"}, "above 1000"),
        ({"from": "0", "to": "10", "countback": "-1"}, "below 0"),
        ({"from": "0", "to": str(10**40)}, "above"),
    ],
)
def test_time_range_refuses(query: dict[str, str], fragment: str) -> None:
    with pytest.raises(UdfError, match=fragment):
        read_range(**query)


def test_query_renders_its_params_in_order() -> None:
    rendered: list[dict[str, Any]] = HISTORY.openapi()
    assert [p["name"] for p in rendered] == ["symbol", "resolution", "from", "to", "countback"]
    assert [p["required"] for p in rendered] == [True, True, False, True, False]
    assert rendered[4]["schema"] == {"type": "integer", "minimum": 0, "maximum": 1000}
    assert all(p["in"] == "query" and p["description"] for p in rendered)
