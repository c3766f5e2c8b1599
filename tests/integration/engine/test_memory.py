"""Invariant 6, bounded memory: over a sustained synthetic feed of 100 symbols the
worker's resident memory stops growing once the caches are warm (no bucket state is
kept, series tails are bounded): from 25 s, once warm, to 60 s at 2,000 ticks/s. `make
bench`'s `memory` scenario measures the longer run."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from tests.harness.worker import candleflow_executable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SYMBOLS = ",".join(f"Mem:S{i:03d}/USD" for i in range(100))
RATE = 2000


async def test_worker_rss_stops_growing(stack: Any, names: Any, database_url: str, worker_factory: Any) -> None:
    from tests.harness.kafka import create_topics

    env = names.env(stack, database_url, CANDLEFLOW_TICKS_PARTITIONS="4")
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 4})
    worker = worker_factory.start(env)
    await asyncio.to_thread(worker.wait_ready)
    feed = await asyncio.create_subprocess_exec(
        *[candleflow_executable(), "ingest", "synthetic", "--symbols", SYMBOLS],
        *["--rate", str(RATE), "--duration", "70"],
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        samples = []
        for _ in range(12):
            await asyncio.sleep(5)
            assert worker.running, "the worker died under load"
            samples.append(worker.rss_bytes())
    finally:
        if feed.returncode is None:
            feed.terminate()
        await asyncio.wait_for(feed.wait(), 30)
    warm, end = samples[4], samples[-1]
    assert end <= warm * 1.2 + 8 * 2**20, f"RSS grew from {warm / 2**20:.0f} MiB to {end / 2**20:.0f} MiB: {samples}"
