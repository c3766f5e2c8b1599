"""The aiohttp middleware every answer of the web port passes through first.

It owns the cross-cutting rules so views do not repeat them:

* errors: `UdfError` becomes `{"s": "error", "errmsg": ...}` with its status; so does
  `AccessDenied` (401 with `WWW-Authenticate: Bearer`, or 403); aiohttp's own 404/405
  get the same body; a database that is down or busy is a 503, and so is a read replica
  that may not be read, with why but not the raw error (`candleflow.store.replica`); a
  client that went away mid-answer is none of that (recorded as 499, not logged);
  anything unexpected is answered 500 with a body that carries no trace;
* rejections: every 4xx and 503 is counted by kind and logged sparingly
  (`candleflow.web.rejections`), naming the route pattern, never the URL or its query
  string; an unexpected error's traceback is logged at most once a minute;
* metrics: a request counter (by endpoint and status) and a latency histogram per
  endpoint, the endpoint being the route pattern (bounded cardinality).

The guard (`candleflow.web.guard`: tokens, rate, rules) runs inside it, so its refusals
are counted and shaped like any other; CORS headers are put on every answer, streams
included, when it is sent (`candleflow.web.application`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import Counter, Histogram

from candleflow.access.exceptions import AccessDenied
from candleflow.core.metrics import HTTP_REQUESTS, HTTP_SECONDS
from candleflow.store.connection import DB_ERRORS, DatabaseBusy
from candleflow.store.replica import ReplicaUnavailable
from candleflow.web import responses
from candleflow.web.context import context
from candleflow.web.errors import UdfError, unavailable

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def endpoint_of(request: web.Request) -> str:
    """The route pattern that matched (`/udf/history`), `unmatched` otherwise."""
    route = request.match_info.route
    resource = route.resource if route is not None else None
    if resource is None or request.match_info.http_exception is not None:
        return "unmatched"
    return resource.canonical or "unmatched"


@web.middleware
async def udf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    endpoint = endpoint_of(request)
    response, reason = await _answer(request, handler, endpoint)
    status = response.status
    if status >= 400 and (status < 500 or status == 503) and status != CLIENT_GONE:
        context(request).rejections.note_status(status, endpoint, reason)
    _requests(endpoint, status).inc()
    _seconds(endpoint).observe(time.perf_counter() - started)
    return response


@functools.cache
def _requests(endpoint: str, status: int) -> Counter:
    """The counter of one endpoint and status (kept: `labels` takes a lock and a lookup)."""
    return HTTP_REQUESTS.labels(endpoint, str(status))


@functools.cache
def _seconds(endpoint: str) -> Histogram:
    return HTTP_SECONDS.labels(endpoint)


async def _answer(request: web.Request, handler: Handler, endpoint: str) -> tuple[web.StreamResponse, str]:
    """The answer, and the reason told to the client when it is an error."""
    try:
        return await handler(request), ""
    except UdfError as exc:
        return responses.udf_error(exc.message, exc.status, exc.headers), exc.message
    except AccessDenied as exc:
        return responses.udf_error(exc.message, exc.status, CHALLENGE if exc.status == 401 else None), exc.message
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return responses.udf_error(exc.reason.lower(), exc.status, _keep(exc)), exc.reason
    except ReplicaUnavailable as exc:
        return responses.udf_error(without_details(str(exc)), 503, {"Retry-After": "5"}), str(exc)
    except DatabaseBusy:
        error = UdfError("database busy, retry in a moment", 503, {"Retry-After": "1"})
        return responses.udf_error(error.message, error.status, error.headers), "database busy"
    except DB_ERRORS as exc:
        if isinstance(exc, ConnectionResetError) and not _client_present(request):
            return web.Response(status=CLIENT_GONE), ""  # the client's connection, not the database's
        error = unavailable("database")
        return responses.udf_error(error.message, error.status, error.headers), f"database error: {exc!r}"
    except Exception as exc:
        context(request).rejections.note("internal error", endpoint, repr(exc), exc_info=exc)
        return responses.udf_error("internal error", 500), ""


#: The status recorded (never sent) for a request whose client went away before its
#: answer was written (as nginx's 499): not an error of the server's.
CLIENT_GONE = 499


def _client_present(request: web.Request) -> bool:
    return request.transport is not None and not request.transport.is_closing()


def without_details(reason: str) -> str:
    """Each clause of `reason` cut at its colon: what is wrong, not the raw error (an
    address, a driver's message) that follows; those go to the log."""
    return "; ".join(clause.split(":", 1)[0] for clause in reason.split("; "))


#: The `WWW-Authenticate` header of a 401 (RFC 6750).
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="candleflow"'}


def _keep(exc: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
