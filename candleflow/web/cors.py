"""Which other origins' pages may read the datafeed (CORS), from `CANDLEFLOW_CORS_ORIGINS`.

* `*` (the default while access is open): any page may read, never with credentials
  (cookies): `Access-Control-Allow-Origin: *` on every answer;
* a list of origins: a page of one of them may read with credentials (the access
  token's cookie, on the same site), the answer naming its origin (`Vary: Origin`);
* nothing (the default with access tokens): no other origin's page may read; the
  shipped chart, served by the worker itself, is same-origin and needs none.

Preflights (`OPTIONS`) are answered for every path, the POSTs of `/udf/streams`
included, with the headers a client may send (`Authorization` named: a `*` would not
cover it).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from candleflow.core.settings import Settings

ALLOW_METHODS = "GET, HEAD, POST, OPTIONS"
ALLOW_HEADERS = "Authorization, Last-Event-ID, Content-Type, Cache-Control"
EXPOSE_HEADERS = "Retry-After, WWW-Authenticate"
MAX_AGE_S = "86400"


class Cors:
    def __init__(self, origins: tuple[str, ...]) -> None:
        self.any = origins == ("*",)
        self.origins = frozenset(origins) - {"*"}

    @classmethod
    def from_settings(cls, settings: Settings) -> Cors:
        if settings.cors_origins:
            return cls(settings.cors_origins)
        return cls(("*",) if settings.access == "open" else ())

    def headers(self, origin: str | None) -> Mapping[str, str]:
        """The CORS headers of an answer to a request from `origin` (its `Origin` header)."""
        if self.any:
            return _ANY
        if origin is not None and origin in self.origins:
            return {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Credentials": "true",
                "Access-Control-Expose-Headers": EXPOSE_HEADERS,
                "Vary": "Origin",
            }
        return _VARY if self.origins else {}

    def preflight(self, request: web.Request) -> web.Response:
        """The answer to an `OPTIONS` preflight (204; no CORS headers for an origin not allowed)."""
        headers = dict(self.headers(request.headers.get("Origin")))
        if "Access-Control-Allow-Origin" in headers:
            headers |= {
                "Access-Control-Allow-Methods": ALLOW_METHODS,
                "Access-Control-Allow-Headers": ALLOW_HEADERS,
                "Access-Control-Max-Age": MAX_AGE_S,
            }
        return web.Response(status=204, headers=headers)

    def add_to(self, request: web.Request, response: web.StreamResponse) -> None:
        """Put the CORS headers on `response` before it is sent (an `on_response_prepare` hook)."""
        for name, value in self.headers(request.headers.get("Origin")).items():
            response.headers.setdefault(name, value)


_ANY: Mapping[str, str] = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": EXPOSE_HEADERS}
_VARY: Mapping[str, str] = {"Vary": "Origin"}
