"""Response helpers: orjson bodies, the UDF error body, caching headers.

Caching policy (`Cache-Control`):

* `CLOSED_RANGE` (`public, max-age=60`) for history-like answers whose `to` lies at or
  before the start of the current bucket: the live bar is not in them. They are not
  `immutable`: a late tick may still correct an old bar (the engine then tells SSE
  subscribers to reset), so a minute of staleness is the most a cache may add.
* `LIVE` (`no-cache`) for answers that contain the bar still being built, and for
  everything that follows the stream (quotes, symbols, config).
* `NO_STORE` for errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web, web_response

#: The `Server` header of every answer: no versions.
SERVER = "candleflow"

CLOSED_RANGE = "public, max-age=60"
LIVE = "no-cache"
NO_STORE = "no-store"


def json(value: Any, *, status: int = 200, cache: str = LIVE, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON answer (numbers stay numbers, numpy arrays become lists; NaN/inf become null)."""
    body = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
    response = web.Response(body=body, status=status, content_type="application/json")
    response.headers["Cache-Control"] = cache
    if headers:
        response.headers.update(headers)
    return response


def udf_error(message: str, status: int = 400, headers: Mapping[str, str] | None = None) -> web.Response:
    """`{"s": "error", "errmsg": message}` with `status`, never cached."""
    return json({"s": "error", "errmsg": message}, status=status, cache=NO_STORE, headers=headers)


def history_cache(end: int, current_bucket_start: int) -> str:
    """`CLOSED_RANGE` when `[.., end)` excludes the bucket starting at `current_bucket_start`."""
    return CLOSED_RANGE if end <= current_bucket_start else LIVE


def no_library_versions() -> None:
    """Answers no view makes, such as aiohttp's 400 to a malformed request, are written
    before any application hook runs, with aiohttp's default `Server` header
    (`Python/3.x aiohttp/3.y`): a version an attacker would fingerprint. aiohttp has no
    setting for it, so its default becomes `SERVER` (idempotent; the aiohttp client's
    `User-Agent` is another binding and stays as it is)."""
    web_response.SERVER_SOFTWARE = SERVER  # type: ignore[attr-defined]  # re-exported from aiohttp.http
