"""Resolutions and the UTC bucket boundaries they imply.

TradingView writes resolutions as `xS` (seconds), `x` (minutes; `60`, `240` for
hours), `xD`, `xW`, `xM`, and a count of 1 may be left out (`D` == `1D`). Buckets start
at the time floored to the resolution in UTC: weeks on Monday 00:00, months on the 1st
00:00. Times here are integer milliseconds since the epoch.
"""

from __future__ import annotations

import re
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
_PATTERN = re.compile(r"(\d{0,6})([SDWM]?)")


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


@lru_cache(maxsize=256)
def parse_resolution(text: str) -> Resolution:
    """Parse a TradingView resolution string into a supported `Resolution`.

    Unknown spellings and unsupported counts raise `InvalidResolution` naming the
    supported set: an unsupported resolution is an error, never an empty answer.
    """
    match = _PATTERN.fullmatch(text.strip().upper()) if isinstance(text, str) else None
    if match is None or (not match.group(1) and not match.group(2)):
        raise InvalidResolution(
            f"resolution {text!r} is not a TradingView resolution; supported: {', '.join(SUPPORTED_CODES)}"
        )
    count = int(match.group(1) or "1")
    resolution = BY_CODE.get(f"{count}{match.group(2)}")
    if resolution is None:
        raise InvalidResolution(f"resolution {text!r} is not supported; supported: {', '.join(SUPPORTED_CODES)}")
    return resolution
