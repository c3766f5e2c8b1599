"""SSE readers for `bench_sse.py`, in a process of their own so that their cost stays
out of the worker's figures: they only read lines and timestamp the sampled ones.

    python -m bench.sse_readers --url http://127.0.0.1:PORT --path '/udf/streams?sub=…' \
        --clients 1000 --sample 100

Prints `ready` once every client has its response head, then reads until a line
arrives on stdin, then prints one JSON object: events received per client and, for
the first `sample` clients, `[close, unix time received]` per bar event.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from urllib.parse import urlsplit

import orjson

CONNECT_TIMEOUT_S = 120.0


async def reader(
    host: str, port: int, path: str, index: int, sample: bool, counts: list[int], samples: list[list[object]]
) -> asyncio.Task[None]:
    stream, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n"
    writer.write(request.encode())
    await writer.drain()
    status = await stream.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"client {index}: {status!r}")
    while (await stream.readline()) not in (b"\r\n", b""):
        pass
    # the task holds the writer too: a collected StreamWriter closes its connection
    return asyncio.get_running_loop().create_task(_read(stream, writer, index, sample, counts, samples))


async def _read(
    stream: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    index: int,
    sample: bool,
    counts: list[int],
    samples: list[list[object]],
) -> None:
    while line := await stream.readline():
        if line.startswith(b"data: {") and b'"close"' in line:
            counts[index] += 1
            if sample:
                samples.append([line, time.time()])
    writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--sample", type=int, default=100)
    args = parser.parse_args()
    where = urlsplit(args.url)
    host, port = where.hostname or "127.0.0.1", where.port or 80
    counts = [0] * args.clients
    samples: list[list[object]] = []
    pending = [reader(host, port, args.path, n, n < args.sample, counts, samples) for n in range(args.clients)]
    connected: list[asyncio.Task[None]] = []  # held: the loop keeps only weak references to tasks
    for start in range(0, len(pending), 200):  # do not flood the listen backlog
        connected += await asyncio.wait_for(asyncio.gather(*pending[start : start + 200]), CONNECT_TIMEOUT_S)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    decoded = [[orjson.loads(line[6:])["close"], at] for line, at in samples]  # type: ignore[index]
    sys.stdout.write(orjson.dumps({"counts": counts, "samples": decoded}).decode() + "\n")
    sys.stdout.flush()
    del connected


if __name__ == "__main__":
    asyncio.run(main())
