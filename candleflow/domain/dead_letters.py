"""The `ticks.dead` record: why an input was refused, and enough of it to find it again.

A dead letter is bounded whatever it reports: the input's first `HEAD_BYTES` bytes (as
text, invalid UTF-8 replaced), its length and SHA-256, the reason (at most
`MAX_REASON` characters), who refused it and when; the engine adds where the record sits
in `ticks.raw` (topic, partition, offset), in the body and as headers. So a 300 KB
record becomes a dead letter of a few KB, never more than `MAX_BYTES` (far below the
broker's 1 MB default record limit)::

    {"reason": "not JSON: ...", "raw": "<head of the input>", "raw_length": 300000,
     "raw_sha256": "<hex>", "source": "engine", "at": 1732406400999,
     "topic": "ticks.raw", "partition": 3, "offset": 1234}

The headers (`source_topic`, `source_partition`, `source_offset`, and `dead_by`: the
engine's consumer, i.e. app id) let the engine recognise its own dead letters on the
topic when it reconciles after a crash (`candleflow.engine.outbox`).
"""

from __future__ import annotations

import hashlib
import time
from typing import NamedTuple

import orjson

#: Bytes of the refused input a dead letter keeps.
HEAD_BYTES = 1024
#: Characters of a reason a dead letter keeps.
MAX_REASON = 500
#: Bytes of the refused record's key a dead letter's key keeps.
MAX_KEY_BYTES = 256
#: No dead letter (value) is longer: the head escaped at worst 6 bytes per byte, the
#: reason likewise, and the fixed fields.
MAX_BYTES = 16 * 1024

SOURCE_TOPIC = "source_topic"
SOURCE_PARTITION = "source_partition"
SOURCE_OFFSET = "source_offset"
DEAD_BY = "dead_by"

Headers = list[tuple[str, bytes]]


class Origin(NamedTuple):
    """Where a refused record sits in the log."""

    topic: str
    partition: int
    offset: int


def dead_letter(
    raw: bytes | str | None, reason: str, source: str, origin: Origin | None = None, at_ms: int | None = None
) -> bytes:
    """The `ticks.dead` value for `raw`, refused for `reason` by `source` (see the module docstring)."""
    data = b"" if raw is None else raw.encode("utf-8", "replace") if isinstance(raw, str) else raw
    head = data[:HEAD_BYTES]
    reason = reason.encode("utf-8", "replace").decode("utf-8")  # no lone surrogate, whatever raised
    record: dict[str, object] = {
        "reason": reason if len(reason) <= MAX_REASON else reason[:MAX_REASON] + "...",
        "raw": head.decode("utf-8", "replace"),
        "raw_length": len(data),
        "raw_sha256": hashlib.sha256(data).hexdigest(),
        "source": source,
        "at": int(time.time() * 1000) if at_ms is None else at_ms,
    }
    if origin is not None:
        record.update(topic=origin.topic, partition=origin.partition, offset=origin.offset)
    return orjson.dumps(record)


def dead_key(key: bytes | None) -> bytes | None:
    """A dead letter's key: the refused record's own, cut to `MAX_KEY_BYTES`."""
    return None if key is None else key[:MAX_KEY_BYTES]


def origin_headers(origin: Origin, dead_by: str) -> Headers:
    return [
        (SOURCE_TOPIC, origin.topic.encode()),
        (SOURCE_PARTITION, str(origin.partition).encode()),
        (SOURCE_OFFSET, str(origin.offset).encode()),
        (DEAD_BY, dead_by.encode()),
    ]


def origin_of(headers: object, dead_by: str) -> Origin | None:
    """The origin a dead letter's headers name, when `dead_by` wrote it; else None."""
    if not isinstance(headers, list | tuple):
        return None
    found: dict[str, bytes] = {}
    for item in headers:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            found[str(item[0])] = item[1]
    if found.get(DEAD_BY) != dead_by.encode():
        return None
    try:
        return Origin(
            found[SOURCE_TOPIC].decode(), int(found[SOURCE_PARTITION].decode()), int(found[SOURCE_OFFSET].decode())
        )
    except (KeyError, ValueError):
        return None
