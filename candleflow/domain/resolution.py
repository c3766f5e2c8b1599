"""Resolutions, the one way each is spelled, and the UTC bucket boundaries they imply.

TradingView writes resolutions as `xS` (seconds), `x` (minutes; `60`, `240` for
hours), `xD`, `xW`, `xM`, and a count of 1 may be left out (`D` == `1D`). Those are the
only spellings accepted anywhere a user types one (the API, the chart's URL and
toolbar): no lower case and no `h`, so `1m` never means a minute in one place and a
month in another. A refused spelling gets a message saying what to write instead
(`advice`). `SUPPORTED` and `SPELLINGS` are the one declaration: the API's parser and
`/openapi.json` read them, and `scripts/resolution_table.py` writes them into the
chart's `frontend/src/model/resolution-table.ts`.

Buckets start at the time floored to the resolution in UTC: weeks on Monday 00:00,
months on the 1st 00:00. Times here are integer milliseconds since the epoch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from candleflow.domain.exceptions import InvalidResolution

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
DAY_MS = 24 * 60 * MINUTE_MS
WEEK_MS = 7 * DAY_MS
#: 1970-01-05T00:00Z, the first Monday after the epoch: weeks are counted from it.
MONDAY_ORIGIN_MS = 4 * DAY_MS

_UNIT_MS = {"S": SECOND_MS, "": MINUTE_MS, "D": DAY_MS, "W": WEEK_MS}
_UNIT_NAMES = {"S": "second", "": "minute", "D": "day", "W": "week", "M": "month"}


@dataclass(frozen=True, slots=True)
class Resolution:
    """One supported resolution: `unit` is `S`, `` (minutes), `D`, `W` or `M`."""

    count: int
    unit: str

    @property
    def code(self) -> str:
        """The canonical spelling, as stored and as listed in `/udf/config`: `1S`, `5`, `1D`."""
        return f"{self.count}{self.unit}"

    @property
    def name(self) -> str:
        """What a person calls it: `1 second`, `5 minutes`, `4 hours`, `1 day`."""
        count, word = self.count, _UNIT_NAMES[self.unit]
        if self.unit == "" and count % 60 == 0:
            count, word = count // 60, "hour"
        return f"{count} {word}" if count == 1 else f"{count} {word}s"

    @property
    def is_monthly(self) -> bool:
        return self.unit == "M"

    @property
    def fixed_ms(self) -> int:
        """Length of a bucket in ms; months have none and raise."""
        if self.is_monthly:
            raise ValueError("months have no fixed length")
        return self.count * _UNIT_MS[self.unit]

    def floor(self, ts_ms: int) -> int:
        """Start (ms) of the bucket holding `ts_ms`."""
        if self.unit == "M":
            return _floor_month(ts_ms, self.count)
        if self.unit == "W":
            step = self.fixed_ms
            return (ts_ms - MONDAY_ORIGIN_MS) // step * step + MONDAY_ORIGIN_MS
        step = self.count * _UNIT_MS[self.unit]
        return ts_ms // step * step

    def next(self, bucket_ms: int) -> int:
        """Start (ms) of the bucket after the one starting at `bucket_ms`."""
        if self.unit == "M":
            moment = datetime.fromtimestamp(bucket_ms / 1000, UTC)
            month = moment.year * 12 + moment.month - 1 + self.count
            return _month_start_ms(month // 12, month % 12 + 1)
        return bucket_ms + self.fixed_ms

    def __str__(self) -> str:
        return self.code


def _month_start_ms(year: int, month: int) -> int:
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp()) * 1000


def _floor_month(ts_ms: int, count: int) -> int:
    moment = datetime.fromtimestamp(ts_ms // 1000, UTC)
    index = (moment.year * 12 + moment.month - 1) // count * count
    return _month_start_ms(index // 12, index % 12 + 1)


SUPPORTED: tuple[Resolution, ...] = (
    Resolution(1, "S"),
    Resolution(1, ""),
    Resolution(5, ""),
    Resolution(15, ""),
    Resolution(30, ""),
    Resolution(60, ""),
    Resolution(240, ""),
    Resolution(1, "D"),
    Resolution(1, "W"),
    Resolution(1, "M"),
)
SUPPORTED_CODES: tuple[str, ...] = tuple(r.code for r in SUPPORTED)
BY_CODE: dict[str, Resolution] = {r.code: r for r in SUPPORTED}
#: Every accepted spelling, in the order `/openapi.json` lists them: each code, and the
#: unit alone where TradingView leaves a count of one out (`D` is `1D`; `S`, `W`, `M` alike).
#: Nothing else: no lower case, no `h`, so that no spelling means two things (`1m`).
SPELLINGS: dict[str, Resolution] = {
    spelling: r for r in SUPPORTED for spelling in ((r.code, r.unit) if r.count == 1 and r.unit else (r.code,))
}

#: Units people write that TradingView spells otherwise, and the TradingView unit they
#: mean (`H`: hours, written as minutes). Single letters are case-sensitive (`m` is the
#: ambiguous one); words are not.
UNIT_WORDS: dict[str, str] = {
    "s": "S", "sec": "S", "secs": "S", "second": "S", "seconds": "S",
    "min": "", "mins": "", "minute": "", "minutes": "",
    "h": "H", "H": "H", "hr": "H", "hrs": "H", "hour": "H", "hours": "H",
    "d": "D", "day": "D", "days": "D",
    "w": "W", "wk": "W", "week": "W", "weeks": "W",
    "mo": "M", "mon": "M", "month": "M", "months": "M",
}  # fmt: skip
_WRITTEN = re.compile(r"([0-9]{1,6})? *([A-Za-z]*)")


def _listed(codes: Iterable[str]) -> str:
    return ", ".join(f"`{code}`" for code in codes)


def _supported() -> str:
    return f"supported: {', '.join(SUPPORTED_CODES)}"


def advice(text: str) -> str:
    """Why `text` is not an accepted spelling, and what to write instead (for a 400).

    Only call it for a refused spelling; every message names the spelling to use or the
    supported set."""
    shown = f"'{text[:40]}'"
    if text != text.strip():
        return f"resolution {shown} has spaces around it: write `{text.strip()}`"
    match = _WRITTEN.fullmatch(text)
    if match is None or not text:
        return f"resolution {shown} is not a TradingView resolution; {_supported()}"
    digits, word = match.group(1), match.group(2)
    count = int(digits) if digits else 1
    minutes = [r.code for r in SUPPORTED if r.unit == ""]
    if word == "m":
        spelled = f"`{count}`" if str(count) in minutes else f"one of {_listed(minutes)}"
        return f"resolution {shown} is ambiguous: minutes are plain numbers, {spelled}; a month is `1M`"
    unit = word if word in ("", "S", "D", "W", "M") else UNIT_WORDS.get(word if len(word) == 1 else word.lower())
    if unit is None:
        return f"resolution {shown} is not a TradingView resolution; {_supported()}"
    if unit == "H":
        code = str(count * 60)
        if code in minutes:
            return f"resolution {shown} is not a TradingView resolution: hours are written in minutes, `{code}`"
        hours = ", ".join(f"`{r.code}` ({r.name})" for r in SUPPORTED if r.unit == "" and r.count % 60 == 0)
        return f"resolution {shown} is not supported: hours are written in minutes, {hours}"
    code = f"{count}{unit}"
    if code in BY_CODE:
        return f"resolution {shown} is not a TradingView spelling: write `{code}` ({BY_CODE[code].name})"
    return f"resolution {shown} is not supported; {_supported()}"


@lru_cache(maxsize=256)
def parse_resolution(text: str) -> Resolution:
    """One accepted spelling (see `SPELLINGS`) as its `Resolution`.

    Anything else raises `InvalidResolution` saying what to write instead (`advice`):
    an unsupported resolution is an error, never an empty answer, and an ambiguous one
    is never guessed.
    """
    if not isinstance(text, str):
        raise InvalidResolution(f"resolution {text!r} is not a TradingView resolution; {_supported()}")
    found = SPELLINGS.get(text)
    if found is None:
        raise InvalidResolution(advice(text))
    return found
