"""What the venues' connection protocols share: a websocket URL taken as given, no
headers, no application-level ping, and the first reading of a frame that the fast path
did not take (JSON? an object?). A venue overrides what its documentation says otherwise.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from candleflow.domain.venues import Spellings
from candleflow.sources.stream.events import NotUnderstood
from candleflow.sources.stream.protocol import Limits


class VenueProtocol:
    """The defaults of `ConnectionProtocol` (`candleflow.sources.stream.protocol`)."""

    #: The venue's documented limits, used when a source gives none.
    default_limits: ClassVar[Limits]

    def __init__(self, base_url: str, spellings: Spellings, limits: Limits | None = None) -> None:
        self.limits = limits if limits is not None else self.default_limits
        self._url = base_url
        self.spellings = spellings

    def url(self) -> str:
        return self._url

    def headers(self) -> dict[str, str]:
        return {}

    def ping(self) -> str | None:
        return None


def text(data: str | bytes) -> str:
    """A frame as text, for the reason a frame was not understood."""
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data


def json_value(data: str | bytes) -> Any | NotUnderstood:
    """The frame's JSON value, or why it has none."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return NotUnderstood("not JSON", text(data))


def json_object(data: str | bytes) -> dict[str, Any] | NotUnderstood:
    """The frame's JSON object, or why it is not one."""
    value = json_value(data)
    if isinstance(value, NotUnderstood) or type(value) is dict:
        return value
    return NotUnderstood("not a JSON object", text(data))
