"""Reading a worker's probes and metrics over HTTP, as a load balancer or Prometheus would."""

from __future__ import annotations

from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families


async def probe(url: str, within: float = 10) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of `url` (`/healthz`, `/livez`)."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=within)) as session,
        session.get(url) as response,
    ):
        body: dict[str, Any] = await response.json()
        return response.status, body


async def metric(base_url: str, name: str, **labels: str) -> float | None:
    """The value of one sample of `/metrics` (None when absent)."""
    async with aiohttp.ClientSession() as session, session.get(f"{base_url}/metrics") as response:
        text = await response.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None
