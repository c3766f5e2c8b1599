"""Points in time as the command line gives them and as reports print them.

Times inside candleflow are integer milliseconds since the epoch, UTC (see
`candleflow.domain.resolution`); this module converts at the edge.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from candleflow.domain.ticks import EARLIEST_MS


def parse_instant(text: str) -> int:
    """Milliseconds since the epoch from `1732406400000` or ISO 8601 (`2024-11-24`,
    `2024-11-24T00:00:00Z`; no zone means UTC). Raises ValueError saying what is expected."""
    value = text.strip()
    if re.fullmatch(r"-?\d+", value):
        ms = int(value)
        if ms < EARLIEST_MS:
            raise ValueError(
                f"{text!r} is before 2009 as milliseconds since the epoch (seconds? multiply by 1000) "
                "— give milliseconds or an ISO date such as 2024-11-24T00:00:00Z"
            )
        return ms
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither milliseconds since the epoch nor an ISO 8601 time such as 2024-11-24T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def iso(ms: int) -> str:
    """`2024-11-24T00:00:00Z`, with milliseconds only when there are some."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{ms % 1000:03d}Z" if ms % 1000 else f"{text}Z"
