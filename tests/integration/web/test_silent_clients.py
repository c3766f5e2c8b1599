"""2,500 SSE clients that never read a byte, against a whole worker (issue 22: they took
a worker from 92 MB to 1,056 MB of resident memory, never returned): flooded with bars,
every one of them is dropped for the bytes it leaves unread, the worker's memory stays
within a stated bound, and it is given back.

The bound while they are connected: the worker's resident memory before, plus per
client its unread allowance (`CANDLEFLOW_SSE_MAX_UNREAD`, 16 KiB here) and `PER_CLIENT`
for its connection, request, stream and queue (measured at about 38 KiB, given 48),
plus `SLACK` for the process's own growth: about 300 MB for a worker that starts near
90 MB (measured: a peak near 185 MB). The kernel holds little more for each (the
stream's send buffer is capped near the same allowance).

Given back: once they are dropped, the hub returns the C heap's free pages
(`candleflow.core.memory`) and resident memory falls to within `KEPT` (64 MB) of where it
started (measured: about 40 MB above); what stays are arenas of Python's small-object
allocator, which a second wave of 2,500 reuses: its peak is within `REUSE_SLACK` of the
first's, so nothing grows wave after wave. Both waves take about 10 s.

The worker listens on its web port alone: Faust's own web server is off.
"""

from __future__ import annotations

import asyncio
import re
import resource
import socket
import time
from typing import Any

import aiohttp
import orjson
import psutil
import pytest

from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig
from candleflow.stack import StackInfo
from tests.harness import Names, WorkerFactory
from tests.harness.sse import OTHER, SYMBOL, T, metric, two_series, update
from tests.harness.waiting import eventually
from tests.harness.worker import WorkerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIENTS = 2_500
#: Clients connecting at once (within the worker's listen backlog).
AT_ONCE = 500
MAX_UNREAD = 16 * 1024
MB = 1024 * 1024
PER_CLIENT = 48 * 1024
SLACK = 64 * MB
KEPT = 64 * MB
REUSE_SLACK = 24 * MB
#: Bars of one flood at most (bounded; a silent client is dropped after a few hundred).
FLOOD_BARS = 20_000
BATCH = 500

#: The count of updates the hub received that carry `committed_at` (the flood's).
RECEIVED = re.compile(r'^candleflow_live_stage_seconds_count\{stage="commit_to_hub"\} (\S+)$', re.MULTILINE)


def raise_file_limit(needed: int) -> None:
    """Let this process (and the worker it starts) hold `needed` sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


class Flood:
    """Distinct 1-second bars of `OTHER` sent to the worker's updates topic, each batch
    waited for until the worker's hub has received it (none is left in Kafka to reach
    the next wave). They carry `committed_at`, so the hub counts them in /metrics."""

    def __init__(self, producer: Any, topic: str, worker: WorkerProcess) -> None:
        self.producer = producer
        self.topic = topic
        self.worker = worker
        self.sent = 0

    async def batch(self) -> None:
        for i in range(self.sent, self.sent + BATCH):
            record = {**update(OTHER, "1S", T + i, 50.0), "committed_at": time.time()}
            await self.producer.send(self.topic, orjson.dumps(record), key=f"{OTHER}|1S".encode())
        await self.producer.flush()
        self.sent += BATCH
        await eventually(self.received, 30, what=f"the hub has received {self.sent} bars")

    async def received(self) -> bool:
        async with aiohttp.ClientSession() as session, session.get(f"{self.worker.url}/metrics") as response:
            found = RECEIVED.search(await response.text())
        return found is not None and float(found.group(1)) >= self.sent


async def silent(port: int, symbol: str) -> socket.socket:
    """A client that asks for a stream and never reads (a small receive buffer: the
    kernel holds little for it, the worker's write buffer fills)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
        request = f"GET /udf/stream?symbol={symbol}&resolution=1S HTTP/1.1\r\nHost: x\r\n\r\n"
        await loop.sock_sendall(sock, request.encode())
    except BaseException:
        sock.close()
        raise
    return sock


def listening(worker: WorkerProcess) -> set[int]:
    """The TCP ports the worker process listens on."""
    assert worker.process is not None
    found = psutil.Process(worker.process.pid).net_connections("tcp")
    return {c.laddr.port for c in found if c.status == psutil.CONN_LISTEN and c.laddr}


class Peak:
    """The highest resident memory of a worker seen so far."""

    def __init__(self, worker: WorkerProcess) -> None:
        self.worker = worker
        self.value = worker.rss_bytes()

    def sample(self) -> int:
        now = self.worker.rss_bytes()
        self.value = max(self.value, now)
        return now


async def wave(worker: WorkerProcess, flood: Flood) -> int:
    """CLIENTS silent clients connected, flooded until every one is dropped; the peak."""
    peak = Peak(worker)
    dropped_before = await metric(worker.url, "candleflow_sse_clients_dropped_total")
    sockets: list[socket.socket] = []
    try:
        for start in range(0, CLIENTS, AT_ONCE):
            sockets += await asyncio.gather(*(silent(worker.port, OTHER) for _ in range(start, start + AT_ONCE)))

        async def served() -> bool:  # connected, or dropped already (a round still fanning out the last flood)
            peak.sample()
            dropped = await metric(worker.url, "candleflow_sse_clients_dropped_total") - dropped_before
            return await metric(worker.url, "candleflow_sse_clients") + dropped >= CLIENTS

        await eventually(served, 60, what=f"{CLIENTS} clients connected")
        for _ in range(FLOOD_BARS // BATCH):
            await flood.batch()
            peak.sample()
            if await metric(worker.url, "candleflow_sse_clients") == 0:
                break

        async def all_dropped() -> bool:
            peak.sample()
            dropped = await metric(worker.url, "candleflow_sse_clients_dropped_total") - dropped_before
            return dropped >= CLIENTS and await metric(worker.url, "candleflow_sse_clients") == 0

        await eventually(all_dropped, 60, what="every silent client dropped", interval=0.5)
    finally:
        for sock in sockets:
            sock.close()
    return peak.value


async def test_silent_clients_cost_a_bounded_memory_given_back(
    stack: StackInfo, database_url: str, names: Names, worker_factory: WorkerFactory
) -> None:
    raise_file_limit(2 * CLIENTS + 1000)
    await two_series(stack, database_url, names)
    env = names.env(
        stack,
        database_url,
        sse_heartbeat=1,
        sse_max_clients=CLIENTS + 100,
        sse_max_per_client=CLIENTS + 100,  # every client is 127.0.0.1 here
        sse_max_subs_per_client=CLIENTS + 100,
        sse_max_unread=MAX_UNREAD,
        rate_limit=0,
        web_max_reads=CLIENTS,  # they open at once: their catch-up reads wait instead of a 503 (test_limits)
    )
    worker = worker_factory.start(env)
    await asyncio.to_thread(worker.wait_ready, 90)
    assert listening(worker) == {worker.port}, "Faust's own web server (its /router and /table routes) is off"
    first_stream = {"symbol": SYMBOL, "resolution": "1"}  # starts the hub, which then follows the topic
    async with aiohttp.ClientSession() as session, session.get(f"{worker.url}/udf/stream", params=first_stream) as r:
        assert r.status == 200
        await r.content.readline()
    producer = clients.producer(KafkaConfig(stack.kafka_bootstrap), "test", linger_ms=5)
    await producer.start()
    try:
        flood = Flood(producer, names.updates_topic, worker)
        await flood.batch()
        before = worker.rss_bytes()
        started = time.monotonic()
        first = await wave(worker, flood)

        def given_back() -> int | None:
            now = worker.rss_bytes()
            return now if now <= before + KEPT else None

        after = await eventually(
            given_back, 30, what=f"RSS back within {KEPT / MB:.0f} MB of {before / MB:.0f} MB", interval=0.5
        )
        second = await wave(worker, flood)
    finally:
        await producer.stop()
    bound = before + CLIENTS * (MAX_UNREAD + PER_CLIENT) + SLACK
    print(
        f"\nRSS before {before / MB:.0f} MB, first wave's peak {first / MB:.0f} MB (bound {bound / MB:.0f}),"
        f" after it {after / MB:.0f} MB, second wave's peak {second / MB:.0f} MB;"
        f" {flood.sent} bars, {time.monotonic() - started:.1f} s"
    )
    assert first <= bound, f"{first / MB:.0f} MB with {CLIENTS} silent clients: above {bound / MB:.0f} MB"
    assert second <= first + REUSE_SLACK, "the second wave did not reuse the memory the first left"
