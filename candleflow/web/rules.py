"""What each route requires of a request, declared beside its view, and what the guard
(`candleflow.web.guard`) hands the views.

Every view carries one rule, put on by a decorator under its route:

    @ROUTES.get("/udf/history")
    @rules.read
    async def history(request): ...

* `page`: the chart's pages; anyone may load them, and `?token=…` there signs the
  browser in (the guard stores the token in a cookie and takes it out of the address);
* `public`: anyone (the frontend's files, `/udf/time`, `/openapi.json`, the probes);
* `read`: reads market data: with `CANDLEFLOW_ACCESS=tokens` a valid access token, and
  the view checks every symbol it reads against the token's grant (`resolve`,
  `grant(request).allows`), after alias resolution;
* `admin`: the admin surface (`/metrics`): on the admin port when there is one, else an
  admin token (anyone while access is open).

A view without a rule is refused by the guard (and fails the access test that walks
every route). The guard stores each request's `Grant` (`grant(request)`: `OPEN` while
access is open) and its client key (`client(request)`: the token's holder, else the
address) for the views and the limits.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from candleflow.access.grants import NOTHING, Grant

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ATTRIBUTE = "candleflow_rule"


class Rule(enum.Enum):
    PAGE = "page"
    PUBLIC = "public"
    READ = "read"
    ADMIN = "admin"


def _ruled(rule: Rule) -> Callable[[Handler], Handler]:
    def decorate(handler: Handler) -> Handler:
        setattr(handler, ATTRIBUTE, rule)
        return handler

    return decorate


page = _ruled(Rule.PAGE)
public = _ruled(Rule.PUBLIC)
read = _ruled(Rule.READ)
admin = _ruled(Rule.ADMIN)


def rule_of(handler: Any) -> Rule | None:
    """The rule `handler` carries (None: it has none, and is refused)."""
    rule = getattr(handler, ATTRIBUTE, None)
    return rule if isinstance(rule, Rule) else None


GRANT = web.RequestKey("candleflow.grant", Grant)
CLIENT = web.RequestKey("candleflow.client", str)


def grant(request: web.Request) -> Grant:
    """What the request's token allows (`OPEN` while access is open; nothing at all on a
    request the guard did not see)."""
    try:
        return request[GRANT]
    except KeyError:
        return NOTHING


def client(request: web.Request) -> str:
    """Who the limits count the request against: its token's holder, else its address."""
    return request.get(CLIENT) or request.remote or "unknown"
