"""The aiohttp middleware every answer of the web port passes through.

It owns the cross-cutting rules so views do not repeat them:

* CORS: `Access-Control-Allow-Origin: *` on every answer (no credentials) and an
  answer to every `OPTIONS` preflight;
* errors: `UdfError` becomes `{"s": "error", "errmsg": ...}` with its status; aiohttp's
  own 404/405 get the same body; a database outage is a 503 (a read replica that may
  not be read, with why: `candleflow.store.replica`); anything unexpected is
  logged with its traceback and answered 500 with a body that carries no trace;
* metrics: a request counter (by endpoint and status) and a latency histogram per
  endpoint, the endpoint being the route pattern (bounded cardinality).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import Counter, Histogram

from candleflow.core.metrics import HTTP_REQUESTS, HTTP_SECONDS
from candleflow.store.connection import DB_ERRORS
from candleflow.store.replica import ReplicaUnavailable
from candleflow.web import responses
from candleflow.web.errors import UdfError, unavailable

log = logging.getLogger(__name__)

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
    response = await _answer(request, handler)
    if not response.prepared:
        for name, value in responses.CORS_HEADERS.items():
            response.headers.setdefault(name, value)
    _requests(endpoint, response.status).inc()
    _seconds(endpoint).observe(time.perf_counter() - started)
    return response


@functools.cache
def _requests(endpoint: str, status: int) -> Counter:
    """The counter of one endpoint and status (kept: `labels` takes a lock and a lookup)."""
    return HTTP_REQUESTS.labels(endpoint, str(status))


@functools.cache
def _seconds(endpoint: str) -> Histogram:
    return HTTP_SECONDS.labels(endpoint)


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS":
        return web.Response(status=204, headers=responses.PREFLIGHT_HEADERS)
    try:
        return await handler(request)
    except UdfError as exc:
        return responses.udf_error(exc.message, exc.status, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return responses.udf_error(exc.reason.lower(), exc.status, _keep(exc))
    except ReplicaUnavailable as exc:
        return responses.udf_error(str(exc), 503, {"Retry-After": "5"})
    except DB_ERRORS as exc:
        log.warning("%s %s: database error: %r", request.method, request.path, exc)
        error = unavailable("database")
        return responses.udf_error(error.message, error.status, error.headers)
    except Exception:
        log.exception("%s %s failed", request.method, request.path_qs)
        return responses.udf_error("internal error", 500)


def _keep(exc: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
