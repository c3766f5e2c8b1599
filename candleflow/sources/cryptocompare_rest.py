"""CryptoCompare's REST history: `data/v2/histominute|histohour|histoday`, one page a call.

`parse_history` turns an answer into rows (pure); `HistoryClient.page` fetches one page
(`limit` 2000 gives 2001 rows, the newest at or before `toTs`) and retries what is
worth retrying — HTTP 429 and 5xx, network errors, and the `{"Response": "Error"}`
answers that say a rate limit was hit — with capped exponential backoff. Any other
error answer raises `RestError` with CryptoCompare's message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Any

import aiohttp
import orjson

from candleflow.domain.bars import quantity
from candleflow.domain.symbols import Symbol
from candleflow.sources.exceptions import SourceError

log = logging.getLogger(__name__)

#: Endpoint -> seconds per row.
ENDPOINTS: dict[str, int] = {"histominute": 60, "histohour": 3600, "histoday": 86400}
#: Most rows CryptoCompare gives per call (the answer holds limit + 1 rows).
LIMIT = 2000


class RestError(SourceError):
    """CryptoCompare refused a history request; the message is its own."""


class RateLimited(RestError):
    """CryptoCompare said a rate limit was hit: wait and ask again."""


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One row: `time` is the period start in seconds; `volume` is `volumefrom` (base)."""

    time: int
    open: float
    high: float
    low: float
    close: float
    volume: Decimal

    @property
    def traded(self) -> bool:
        """False for CryptoCompare's filler rows (no trade: zero volume or zero prices)."""
        return self.volume > 0 and min(self.open, self.high, self.low, self.close) > 0


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[HistoryRow]  # oldest first
    time_from: int
    time_to: int


def is_rate_limit(message: str) -> bool:
    text = message.lower()
    return "rate limit" in text or "too many requests" in text or "ratelimit" in text


def _number(row: dict[str, Any], name: str) -> float:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RestError(f"history row field {name!r} is not a number: {value!r}")
    return float(value)


def _volume(row: dict[str, Any]) -> Decimal:
    value = row.get("volumefrom", 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise RestError(f"history row field 'volumefrom' is not a number >= 0: {value!r}")
    return Decimal(value) if isinstance(value, int) else quantity(value)


def parse_row(row: object) -> HistoryRow:
    if not isinstance(row, dict) or not isinstance(row.get("time"), int):
        raise RestError(f"history row without an integer time: {row!r}")
    return HistoryRow(
        row["time"],
        _number(row, "open"),
        _number(row, "high"),
        _number(row, "low"),
        _number(row, "close"),
        _volume(row),
    )


def parse_history(payload: object) -> Page:
    """The rows of a history answer, or `RateLimited` / `RestError` for an error answer."""
    if not isinstance(payload, dict):
        raise RestError(f"answer is not a JSON object: {str(payload)[:200]}")
    if payload.get("Response") == "Error":
        message = str(payload.get("Message") or "error without a message")
        raise RateLimited(message) if is_rate_limit(message) else RestError(message)
    data = payload.get("Data")
    if not isinstance(data, dict) or not isinstance(data.get("Data"), list):
        raise RestError(f"answer has no Data.Data list: {str(payload)[:200]}")
    rows = sorted((parse_row(row) for row in data["Data"]), key=lambda r: r.time)
    time_from = data.get("TimeFrom")
    time_to = data.get("TimeTo")
    first = rows[0].time if rows else 0
    last = rows[-1].time if rows else 0
    return Page(
        rows,
        time_from if isinstance(time_from, int) else first,
        time_to if isinstance(time_to, int) else last,
    )


@dataclass(frozen=True, slots=True)
class Retry:
    """How often and how patiently to ask again: `initial * 2**attempt`, at most `cap`.

    The loop in `HistoryClient.page` is written out rather than taken from a retry
    library (tenacity): a wait must grow to the server's `Retry-After`, which a 429
    answer carries in its headers rather than as an exception, and every attempt is
    counted and logged with the page it was for; with tenacity those become a custom
    wait strategy reading the last outcome plus before-sleep hooks — more code than
    the dozen lines here, for the same behaviour. Tests pass `sleep` to skip the waits.
    """

    attempts: int = 8
    initial: float = 1.0
    cap: float = 60.0

    def delay(self, attempt: int) -> float:
        return float(min(self.cap, self.initial * 2**attempt))


Sleep = Callable[[float], Awaitable[None]]


class HistoryClient:
    """Fetches history pages from `base_url` (`CANDLEFLOW_CRYPTOCOMPARE_REST_URL`)."""

    def __init__(
        self,
        base_url: str,
        api_key: str = "",
        *,
        retry: Retry | None = None,
        timeout: float = 30.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.retry = retry or Retry()
        self.timeout = timeout
        self.sleep = sleep
        self.requests = 0
        self.retries = 0
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HistoryClient:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _params(self, symbol: Symbol, to_ts: int, limit: int) -> dict[str, str]:
        params = {
            "fsym": symbol.base,
            "tsym": symbol.quote,
            "e": symbol.exchange,
            "limit": str(limit),
            "toTs": str(to_ts),
        }
        if self.api_key:
            params["api_key"] = self.api_key
        return params

    async def page(self, endpoint: str, symbol: Symbol, to_ts: int, limit: int = LIMIT) -> Page:
        """The page of rows at or before `to_ts` (seconds), retrying transient failures."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown history endpoint {endpoint!r}; one of {', '.join(ENDPOINTS)}")
        if self._session is None:
            raise RuntimeError("use HistoryClient as an async context manager")
        url = f"{self.base_url}/data/v2/{endpoint}"
        params = self._params(symbol, to_ts, limit)
        problem = ""
        for attempt in range(self.retry.attempts):
            wait = self.retry.delay(attempt)
            self.requests += 1
            try:
                async with self._session.get(url, params=params) as response:
                    body = await response.read()
                    if response.status == 429 or response.status >= 500:
                        problem = f"HTTP {response.status}"
                        wait = max(wait, _retry_after(response.headers.get("Retry-After")))
                    else:
                        return _page_of(response.status, body)
            except RateLimited as exc:
                problem = f"rate limited: {exc}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            self.retries += 1
            log.warning("%s %s toTs=%d: %s; retrying in %.1f s", endpoint, symbol, to_ts, problem, wait)
            await self.sleep(wait)
        raise RestError(f"gave up after {self.retry.attempts} attempts ({problem}): try again later")


def _retry_after(value: str | None) -> float:
    try:
        return min(float(value), 300.0) if value else 0.0
    except ValueError:
        return 0.0


def _page_of(status: int, body: bytes) -> Page:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RestError(f"HTTP {status} with a body that is not JSON: {body[:200]!r}") from None
    page = parse_history(payload)
    if status != 200:
        raise RestError(f"HTTP {status}")
    return page
