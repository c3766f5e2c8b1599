"""GET a venue's REST JSON at the venue's pace, with bounded retries.

Every REST call of a source goes through one `JsonApi`: requests are spaced by its
`Pace` (below the venue's documented request weight or rate), a 429 or 418 waits as long
as `Retry-After` says (or a growing delay) and tries again at most `retries` times, a 5xx
or a network error is retried likewise, and anything else is an `ApiError` whose message
names the URL and what the venue answered. Nothing is retried forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import orjson

from candleflow.sources.exceptions import SourceError
from candleflow.sources.stream.pacing import Pace

log = logging.getLogger(__name__)


class ApiError(SourceError):
    """A REST call failed for good; the message names the URL and the answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class JsonApi:
    def __init__(
        self,
        base_url: str,
        *,
        rate: float,
        name: str,
        retries: int = 4,
        timeout: float = 20.0,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.pace = Pace(rate)
        self.retries = retries
        self.requests = 0
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._headers = dict(headers or {})
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    async def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """The decoded JSON of GET `path` with `params`."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        url = f"{self.base_url}{path}"
        query = {k: str(v) for k, v in (params or {}).items()}
        for attempt in range(self.retries + 1):
            await self.pace.wait()
            self.requests += 1
            try:
                async with self._session.get(url, params=query) as response:
                    body = await response.read()
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                if attempt == self.retries:
                    raise ApiError(f"{self.name}: GET {url} failed: {type(exc).__name__}: {exc}") from None
                await self._sleep(2.0 * 2**attempt)
                continue
            if status == 200:
                try:
                    return orjson.loads(body)
                except orjson.JSONDecodeError:
                    raise ApiError(f"{self.name}: GET {url} answered something not JSON: {body[:200]!r}") from None
            if status in (418, 429) or status >= 500:
                if attempt == self.retries:
                    break
                wait = _seconds(retry_after, default=2.0 * 2**attempt)
                log.warning("%s: GET %s answered HTTP %d: waiting %.1f s", self.name, path, status, wait)
                await self._sleep(wait)
                continue
            text = body[:300].decode(errors="replace")
            raise ApiError(f"{self.name}: GET {url} answered HTTP {status}: {text}", status)
        tries = self.retries + 1
        raise ApiError(f"{self.name}: GET {url} still refused after {tries} attempts (HTTP {status})", status)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _seconds(text: str | None, *, default: float) -> float:
    try:
        return max(0.0, min(float(text), 300.0)) if text else default
    except ValueError:
        return default
