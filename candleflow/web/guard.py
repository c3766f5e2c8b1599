"""The guard: the middleware that decides whether a request may reach its view.

For every request, in this order:

1. the access token, if any, is read from `Authorization: Bearer …`, the
   `candleflow_token` cookie, or the `token=` query parameter (for `EventSource`, which
   cannot send headers); the parameter is taken out of the request before anything
   else sees it, so no view, log line or error can repeat it;
2. with `CANDLEFLOW_ACCESS=tokens` it is verified (`candleflow.access.tokens`: a good
   token is remembered, so this is a dictionary look-up after the first request);
3. the request is counted against its client's rate (`candleflow.web.limits`: the
   token's holder, else the address): past it, 429 with `Retry-After`;
4. the route's rule (`candleflow.web.rules`) decides: a `read` route needs a valid token
   (401 otherwise: none, expired, forged), an `admin` route an admin token (403) or the
   admin port (404 here when there is one); `?token=…` on a `page` signs the browser in:
   the token goes into an HttpOnly cookie and the browser is sent to the same page
   without it in the address.

The view then checks the symbols it reads against `rules.grant(request)`. While access
is open every request holds `OPEN` and steps 2 and 4 cost nothing.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from candleflow.access.exceptions import AccessDenied
from candleflow.access.grants import NOTHING, OPEN, Grant
from candleflow.access.tokens import Keys, TokenVerifier, public_keys
from candleflow.core.settings import Settings, variable
from candleflow.domain.exceptions import ConfigError
from candleflow.web.context import context
from candleflow.web.errors import UdfError
from candleflow.web.limits import WebLimits
from candleflow.web.rules import CLIENT, GRANT, Handler, Rule, rule_of

COOKIE = "candleflow_token"
QUERY = "token"
BEARER = "bearer "
#: Where a client is told to put its token.
HOW = f"send it as 'Authorization: Bearer <token>', the {COOKIE} cookie, or token=<token> on a stream"


def verifier_of(settings: Settings) -> TokenVerifier | None:
    """The token verifier the settings configure (None while access is open)."""
    if settings.access != "tokens":
        return None
    issuer, audience = settings.token_issuer or None, settings.token_audience or None
    if settings.token_secret:
        return TokenVerifier(Keys(secret=settings.token_secret.encode(), issuer=issuer, audience=audience))
    name = variable("token_public_keys")
    try:
        keys = public_keys(Path(settings.token_public_keys).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{name}={settings.token_public_keys}: {exc} (give a PEM or JWKS file)") from None
    return TokenVerifier(Keys(public=keys, issuer=issuer, audience=audience))


@dataclass
class Guard:
    """What the guard middleware checks with, built once per application."""

    verifier: TokenVerifier | None
    limits: WebLimits
    #: The admin surface has a port of its own: `admin` routes are not served here.
    admin_apart: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, limits: WebLimits) -> Guard:
        return cls(verifier_of(settings), limits, admin_apart=settings.admin_port > 0)

    def grant(self, token: str | None) -> tuple[Grant, AccessDenied | None]:
        """The grant `token` carries, or nothing and why it is refused (`OPEN` while access is open)."""
        if self.verifier is None:
            return OPEN, None
        if token is None:
            return NOTHING, AccessDenied(f"access token required: {HOW}")
        try:
            return self.verifier.verify(token), None
        except AccessDenied as exc:
            return NOTHING, exc


def token_of(request: web.Request) -> tuple[str | None, bool, web.Request]:
    """The token the request carries, whether it came in the address (`token=`), and the
    request without that parameter."""
    token, in_url = None, False
    if QUERY in request.query:
        token, in_url = request.query.get(QUERY) or None, True
        request = request.clone(rel_url=request.rel_url.without_query_params(QUERY))
    authorization = request.headers.get("Authorization")
    if authorization is not None and token is None:
        if authorization[: len(BEARER)].lower() != BEARER:
            raise AccessDenied("the Authorization header must be 'Bearer <token>'")
        token = authorization[len(BEARER) :].strip() or None
    if token is None:
        token = request.cookies.get(COOKIE) or None
    return token, in_url, request


GUARD = web.AppKey("candleflow.guard", Guard)
#: Set on the admin port's application: every request there sees the admin details.
ADMIN_APP = web.AppKey("candleflow.admin_app", bool)


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """See the module docstring."""
    guard = request.app[GUARD]
    token, in_url, request = token_of(request)
    grant, refused = guard.grant(token)
    client = grant.holder or guard.limits.address(request)
    if guard.limits.rate is not None:
        wait = guard.limits.rate.take(client)
        if wait:
            raise UdfError("too many requests, slow down", 429, {"Retry-After": str(max(1, math.ceil(wait)))})
    request[GRANT] = grant
    request[CLIENT] = client
    if request.method == "OPTIONS":
        return context(request).cors.preflight(request)
    info = request.match_info
    if info.http_exception is not None:
        return await handler(request)  # 404 or 405: the router's answer
    rule = rule_of(info.handler)
    if rule is Rule.READ:
        if refused is not None:
            raise refused
    elif rule is Rule.ADMIN:
        if guard.admin_apart:
            raise UdfError("not found", 404)
        if not grant.admin:
            raise refused or AccessDenied("an admin token is required", 403)
    elif rule is Rule.PAGE:
        if in_url and guard.verifier is not None:
            if refused is not None:
                raise refused
            return sign_in(request, grant, token or "", _secure(request, guard))
        if in_url:
            return sign_in(request, grant, "", False)
    elif rule is not Rule.PUBLIC:
        raise AccessDenied("this route has no access rule", 403)
    return await handler(request)


def sign_in(request: web.Request, grant: Grant, token: str, secure: bool) -> web.StreamResponse:
    """`/?token=…`: the (verified) token stored in an HttpOnly cookie, and the same page
    again without the token in its address (303). No cookie while access is open."""
    target = str(request.rel_url)
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = web.Response(status=303, headers={"Location": target})
    if token:
        max_age = None if grant.expires is None else max(0, int(grant.expires - time.time()))
        response.set_cookie(COOKIE, token, max_age=max_age, path="/", httponly=True, samesite="Strict", secure=secure)
    response.headers["Cache-Control"] = "no-store"
    return response


def _secure(request: web.Request, guard: Guard) -> bool:
    """Whether the browser reached us over TLS (directly, or at the reverse proxy in front)."""
    if request.secure:
        return True
    return bool(guard.limits.proxy_hops) and request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def admin_view(request: web.Request) -> bool:
    """Whether this request may see the admin details (`/healthz`'s in full): it came in on
    the admin port, or there is none and its token is an admin's (anyone while open)."""
    if request.app.get(ADMIN_APP, False):
        return True
    guard = request.app.get(GUARD)
    return guard is not None and not guard.admin_apart and request.get(GRANT, NOTHING).admin
