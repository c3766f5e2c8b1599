"""Is Kafka reachable? One metadata round trip with a throw-away client."""

from __future__ import annotations

import asyncio
import contextlib

from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig


async def kafka_error(config: KafkaConfig, timeout_s: float, role: str = "healthz") -> str | None:
    """None when the brokers answer a metadata request within `timeout_s`; otherwise
    what went wrong, as text (at most 300 characters)."""
    client = clients.metadata_client(config, role, request_timeout_s=timeout_s)
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
        return None
    except Exception as exc:  # any failure means "not reachable", reported as text
        return f"{type(exc).__name__}: {exc}"[:300]
    finally:
        # closing a half-open client may fail; there is nothing left to do then
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), timeout_s)
