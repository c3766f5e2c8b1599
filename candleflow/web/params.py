"""Query parameters: each declared once, validated from that declaration and described in
`/openapi.json` from the same declaration.

A `Param` names a parameter and says what it accepts (JSON-Schema type, bounds, enum,
length, pattern) and what it means. `Param.read` validates a raw value against exactly
that, and `Param.openapi` renders it, so the schema a client is generated from and the
check the server applies cannot drift apart. An endpoint's parameters are a `Query`;
views call `QUERY.read(request.query)` and never read `request.query` themselves.
Failures are `UdfError` 400 naming the parameter and what it expects. A parameter with
`max_items` is a list: it may be given up to that many times, each value checked.

Integers follow JSON Schema: `12`, `-3`, `12.0` and `1.2e1` are the integer 12, `1.5`
and `012` are not integers. Strings are taken as sent (no trimming) and never hold NUL.
A parameter given twice is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from candleflow.domain import symbols
from candleflow.domain.resolution import SPELLINGS, Resolution, advice, parse_resolution
from candleflow.web.errors import UdfError

#: Times are clamped to [0, end of year 9999]: the range Python and PostgreSQL share.
MIN_TIME = 0
MAX_TIME = 253_402_300_799
#: Longest accepted string parameter (symbols, search queries).
MAX_TEXT = 200
#: Strings never hold NUL (PostgreSQL text cannot); written for Python and ECMA regexes alike.
NO_NUL = r"[^\u0000]*"
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
#: The common spelling of a JSON integer, read with `int` (the other ones go through `Decimal`).
_JSON_DIGITS = re.compile(r"-?(?:0|[1-9][0-9]*)")


#: What views pass in: aiohttp's `request.query` (a multidict, so repeats are seen) or a dict.
QueryLike = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Param:
    """One query parameter: its contract (for validation and for OpenAPI) and its doc."""

    name: str
    doc: str
    type: Literal["string", "integer"] = "string"
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] | tuple[int, ...] | None = None
    min_length: int = 0
    max_length: int = MAX_TEXT
    #: A regex the whole string must match (Python `fullmatch`, ECMA `^(?:...)$`).
    pattern: str = NO_NUL
    example: str | int | None = None
    #: A list parameter, given at most this many times (`sub=a&sub=b`); None: given once.
    max_items: int | None = None
    #: Says why a value outside `enum` is refused and what to write instead (default: the enum).
    refusal: Callable[[str], str] | None = None
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.type == "integer" and (self.minimum is None or self.maximum is None):
            raise ValueError(f"integer parameter {self.name} needs a minimum and a maximum")
        object.__setattr__(self, "_compiled", re.compile(self.pattern))

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of the value (OpenAPI 3.0 subset)."""
        schema: dict[str, Any] = {"type": self.type}
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        elif self.type == "integer":
            schema["minimum"], schema["maximum"] = self.minimum, self.maximum
        else:
            schema["minLength"], schema["maxLength"] = self.min_length, self.max_length
            schema["pattern"] = f"^(?:{self.pattern})$"
        if self.example is not None:
            schema["example"] = self.example
        return schema

    def openapi(self) -> dict[str, Any]:
        """This parameter as an OpenAPI parameter object."""
        schema = self.schema()
        found = {"name": self.name, "in": "query", "required": self.required, "schema": schema}
        if self.max_items is not None:
            found["schema"] = {"type": "array", "maxItems": self.max_items, "items": schema}
            found |= {"style": "form", "explode": True}
        return found | {"description": self.doc}

    def read(self, query: QueryLike, *, repeats: bool = True) -> str | int | list[str] | None:
        """The validated value, or None when the parameter is absent and not required (a
        list parameter: every value given, in order).

        `repeats=False`: the caller saw that no parameter of `query` is given twice."""
        if self.max_items is not None:
            return self._read_list(query)
        if repeats:
            getall = getattr(query, "getall", None)
            if getall is not None and len(getall(self.name, ())) > 1:
                raise UdfError(f"parameter {self.name} is given more than once")
        raw = query.get(self.name)
        if raw is None:
            if self.required:
                raise UdfError(f"missing parameter {self.name}")
            return None
        return self._integer(raw) if self.type == "integer" else self._string(raw)

    def _read_list(self, query: QueryLike) -> list[str]:
        getall = getattr(query, "getall", None)
        given = list(getall(self.name, ())) if getall is not None else [v for k, v in query.items() if k == self.name]
        if len(given) > (self.max_items or 0):
            raise UdfError(f"parameter {self.name} is given more than {self.max_items} times")
        if self.required and not given:
            raise UdfError(f"missing parameter {self.name}")
        return [self._string(raw) for raw in given]

    def _not_in_enum(self, raw: str) -> UdfError:
        if self.refusal is not None:
            return UdfError(self.refusal(raw))
        return UdfError(f"parameter {self.name}={raw[:40]!r} is not one of {', '.join(map(str, self.enum or ()))}")

    def _string(self, raw: str) -> str:
        if self.enum is not None:
            if raw not in self.enum:
                raise self._not_in_enum(raw)
            return raw
        if len(raw) < self.min_length:
            raise UdfError(f"missing parameter {self.name}" if not raw else f"parameter {self.name} is too short")
        if len(raw) > self.max_length:
            raise UdfError(f"parameter {self.name} is longer than {self.max_length} characters")
        if "\x00" in raw:
            raise UdfError(f"parameter {self.name} contains a NUL character")
        if not self._compiled.fullmatch(raw):
            raise UdfError(f"parameter {self.name}={raw[:40]!r} is malformed; expected: {self.doc}")
        return raw

    def _integer(self, raw: str) -> int:
        number: int | Decimal | None
        if _JSON_DIGITS.fullmatch(raw):
            number = int(raw)
        else:
            number = Decimal(raw) if _JSON_NUMBER.fullmatch(raw) else None
            if number is None or number != number.to_integral_value():
                raise UdfError(f"parameter {self.name}={raw[:40]!r} is not an integer")
        if self.enum is not None and number not in self.enum:
            raise self._not_in_enum(raw)
        if self.minimum is not None and number < self.minimum:
            raise UdfError(f"parameter {self.name}={raw[:40]} is below {self.minimum}")
        if self.maximum is not None and number > self.maximum:
            raise UdfError(f"parameter {self.name}={raw[:40]} is above {self.maximum}")
        return int(number)


@dataclass(frozen=True, slots=True)
class Values:
    """The validated parameters of one request, by name."""

    values: Mapping[str, str | int | list[str] | None]

    def texts(self, name: str) -> list[str]:
        """Every value of a list parameter."""
        value = self.values[name]
        return value if isinstance(value, list) else []

    def text(self, name: str) -> str:
        value = self.values[name]
        return value if isinstance(value, str) else ""

    def integer(self, name: str, default: int) -> int:
        value = self.values[name]
        return value if isinstance(value, int) else default

    def resolution(self, name: str = "resolution") -> Resolution:
        return parse_resolution(self.text(name))


@dataclass(frozen=True, slots=True)
class Query:
    """The parameters of one endpoint, in the order OpenAPI lists them."""

    params: tuple[Param, ...]

    def __init__(self, *params: Param) -> None:
        object.__setattr__(self, "params", params)

    def read(self, query: QueryLike) -> Values:
        repeats = len(query) != len(set(query))  # one look for the rare request that repeats a name
        return Values({p.name: p.read(query, repeats=repeats) for p in self.params})

    def openapi(self) -> list[dict[str, Any]]:
        return [p.openapi() for p in self.params]


SYMBOL = Param(
    "symbol",
    "`Exchange:BASE/QUOTE`, any case; `BASE/QUOTE` alone finds it on the first exchange that lists it",
    required=True,
    min_length=1,
    max_length=symbols.MAX_LENGTH,
    pattern=f"{symbols.CHARACTERS}*",
    example="Coinbase:BTC/USD",
)
RESOLUTION = Param(
    "resolution",
    "TradingView resolution: `1S` (seconds), `1`, `5`, `15`, `30`, `60`, `240` (minutes: `60` is an hour), "
    "`1D`, `1W`, `1M` (a month); a count of 1 may be left out (`D`). Nothing else: `1m` is refused as "
    "ambiguous, `1h` with the spelling to use",
    required=True,
    enum=tuple(SPELLINGS),
    example="1D",
    refusal=advice,
)
FROM = Param(
    "from",
    "Range start, unix seconds, inclusive; absent: the range is empty (`to` alone with "
    "`countback` asks for the countback bars before `to`); after `to`: the range is empty",
    type="integer",
    minimum=-MAX_TIME,
    maximum=MAX_TIME,
)
TO = Param(
    "to", "Range end, unix seconds, exclusive", type="integer", required=True, minimum=-MAX_TIME, maximum=MAX_TIME
)


def countback(max_countback: int) -> Param:
    return Param(
        "countback",
        "Bars wanted before `to`: the answer is every bar of `[from, to)` or the "
        "`countback` bars before `to`, whichever is more (at most the bars-per-answer cap)",
        type="integer",
        minimum=0,
        maximum=max_countback,
    )


MARKS_FROM = Param(
    "from", "Range start, unix seconds, inclusive", type="integer", required=True, minimum=-MAX_TIME, maximum=MAX_TIME
)
MARKS_TO = Param(
    "to",
    "Range end, unix seconds, inclusive; before `from`: the range is empty",
    type="integer",
    required=True,
    minimum=-MAX_TIME,
    maximum=MAX_TIME,
)


def resolution_of(raw: str) -> Resolution:
    """A resolution written as `RESOLUTION` accepts it (400 otherwise), e.g. the part of a
    `sub=` after its last `|`."""
    return parse_resolution(str(RESOLUTION.read({RESOLUTION.name: raw}, repeats=False)))


def extras(query: QueryLike, known: frozenset[str], max_length: int) -> dict[str, str]:
    """The parameters of `query` no endpoint declares (`known` and the cache-buster `_`
    left out), such as a function's own: each name and value at most `max_length`
    characters (400 otherwise)."""
    found: dict[str, str] = {}
    for key in query:
        if key in known or key == "_":
            continue
        value = query[key]
        if len(key) > max_length or len(value) > max_length:
            raise UdfError(f"parameter {key[:max_length]} is longer than {max_length} characters")
        found[key] = value
    return found


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A validated `[start, end)` request with its `countback` (0 when absent)."""

    start: int
    end: int
    countback: int


def time_range(values: Values) -> TimeRange:
    """`[from, to)` and `countback` of a history-like request (see `FROM`, `TO`, `countback`).

    An absent `from`, or one after `to`, makes the range empty: only `countback` bars
    before `to` are then wanted. No span is refused here: the cap applies to the bars a
    range really holds, which only the query knows.
    """
    end = values.integer("to", 0)
    start = min(values.integer("from", end), end)
    return TimeRange(clamp_time(start), clamp_time(end), values.integer("countback", 0))


def clamp_time(seconds: int) -> int:
    """`seconds` moved into the range every layer can represent (see `MAX_TIME`)."""
    return min(max(seconds, MIN_TIME), MAX_TIME)
