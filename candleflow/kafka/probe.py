"""Is Kafka reachable? One metadata round trip with a throw-away client, cached briefly
(`KafkaProbe`) so that a tight health-check loop does not open a connection per call.
When it fails, the start-up check's look at a broker (`candleflow.kafka.preflight`)
says why: a refused login or an untrusted certificate, not only "unable to bootstrap"."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from candleflow.kafka import clients, preflight
from candleflow.kafka.config import KafkaConfig

PROBE_TIMEOUT_S = 3.0
CACHE_S = 5.0


async def kafka_error(config: KafkaConfig, timeout_s: float = PROBE_TIMEOUT_S, role: str = "healthz") -> str | None:
    """None when the brokers answer a metadata request within `timeout_s`; otherwise
    what went wrong, as text (at most 300 characters)."""
    client = clients.metadata_client(config, role, request_timeout_s=timeout_s)
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
        return None
    except Exception as exc:  # any failure means "not reachable", reported as text
        failed = f"{type(exc).__name__}: {exc}"
    finally:
        # closing a half-open client may fail; there is nothing left to do then
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), timeout_s)
    with contextlib.suppress(Exception):
        answer = await preflight.probe(config, timeout_s)
        if answer.refused is not None:
            failed = answer.refused
        elif answer.unreachable:
            failed = f"{failed} ({'; '.join(answer.unreachable)})"
    return failed[:300]


@dataclass(frozen=True, slots=True)
class Probe:
    reachable: bool
    error: str | None
    at: float


class KafkaProbe:
    """`kafka_error` against the brokers of `config`; the answer is kept `ttl` seconds."""

    def __init__(self, config: KafkaConfig, ttl: float = CACHE_S) -> None:
        self.config = config
        self.ttl = ttl
        self._last: Probe | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> Probe:
        async with self._lock:
            if self._last is None or time.monotonic() - self._last.at > self.ttl:
                error = await kafka_error(self.config)
                self._last = Probe(error is None, error, time.monotonic())
            return self._last
