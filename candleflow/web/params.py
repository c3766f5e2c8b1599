"""Query-parameter validation: every parameter is checked here, failures are `UdfError` 400.

Views never read `request.query` themselves; they call these helpers, which name the
parameter and what it expects in the error message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from candleflow.exceptions import InvalidResolution
from candleflow.resolution import Resolution, parse_resolution
from candleflow.web.errors import UdfError

#: Times are clamped to [0, end of year 9999]: the range Python and PostgreSQL share.
MIN_TIME = 0
MAX_TIME = 253_402_300_799
#: An average month, for the span cap of monthly requests.
MONTH_S = 2_629_746
#: Longest accepted string parameter (symbols, search queries).
MAX_TEXT = 200
_INT = re.compile(r"[+-]?[0-9]{1,20}")


def text(
    query: Mapping[str, str],
    name: str,
    *,
    required: bool = True,
    default: str = "",
    max_length: int = MAX_TEXT,
) -> str:
    value = query.get(name)
    if value is None or (required and not value.strip()):
        if required:
            raise UdfError(f"missing parameter {name}")
        return default
    if len(value) > max_length:
        raise UdfError(f"parameter {name} is longer than {max_length} characters")
    if "\x00" in value:
        raise UdfError(f"parameter {name} contains a NUL character")
    return value.strip()


def integer(
    query: Mapping[str, str],
    name: str,
    *,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """An integer parameter (`12`, `-3`; a float with a zero fraction such as `12.0` too)."""
    raw = query.get(name)
    if raw is None or raw.strip() == "":
        if default is None:
            raise UdfError(f"missing parameter {name}")
        return default
    raw = raw.strip()
    if raw.endswith(".0") or raw.endswith(".00"):
        raw = raw.split(".", 1)[0]
    if not _INT.fullmatch(raw):
        raise UdfError(f"parameter {name}={raw[:40]!r} is not an integer")
    value = int(raw)
    if minimum is not None and value < minimum:
        raise UdfError(f"parameter {name}={value} is below {minimum}")
    if maximum is not None and value > maximum:
        raise UdfError(f"parameter {name}={value} is above {maximum}")
    return value


def resolution(query: Mapping[str, str], name: str = "resolution") -> Resolution:
    raw = text(query, name)
    try:
        return parse_resolution(raw)
    except InvalidResolution as exc:
        raise UdfError(str(exc)) from None


def span_seconds(res: Resolution) -> int:
    """Length of one bar in seconds (an average month for monthly bars)."""
    return MONTH_S * res.count if res.is_monthly else res.fixed_ms // 1000


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A validated `[start, end)` request with its `countback` (0 when absent)."""

    start: int
    end: int
    countback: int


def time_range(query: Mapping[str, str], res: Resolution, *, max_countback: int, max_span_bars: int) -> TimeRange:
    """`from`, `to` (exclusive) and `countback` of a history-like request.

    `to` is required. `from` may be left out when `countback` is given (then only the
    `countback` bars before `to` are wanted). `countback` is capped at `max_countback`
    and `[from, to)` may span at most `max_span_bars` bars of the resolution.
    """
    countback = integer(query, "countback", default=0, minimum=0)
    if countback > max_countback:
        raise UdfError(f"countback={countback} is above the limit of {max_countback} bars")
    end = integer(query, "to")
    start = integer(query, "from", default=end if countback else None)
    if start > end:
        raise UdfError(f"from={start} is after to={end}")
    span = end - start
    if span > max_span_bars * span_seconds(res):
        raise UdfError(
            f"[from, to) spans {span} s, more than {max_span_bars} bars of resolution {res.code}: "
            "ask for a shorter range or use countback"
        )
    return TimeRange(clamp_time(start), clamp_time(end), countback)


def clamp_time(seconds: int) -> int:
    """`seconds` moved into the range every layer can represent (see `MAX_TIME`)."""
    return min(max(seconds, MIN_TIME), MAX_TIME)
