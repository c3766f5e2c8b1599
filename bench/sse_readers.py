"""SSE readers for `bench_sse.py`, in a process of their own so that their cost stays
out of the worker's figures: they only split events and timestamp the sampled ones.

    python -m bench.sse_readers --url http://127.0.0.1:PORT --path '/udf/streams?sub=…' [--path …] \
        --clients 1000 --sample 100

Prints `ready` once every client has its response head, then reads lines from stdin:
`mark` starts the measured window over (what was received so far is forgotten: a
warm-up), anything else ends it and prints one JSON object: bar events received per
client, the bytes all clients received after their response heads, `window_counts` and
`window_bytes` (the same from the last `mark`), and, for `sample` clients spread over
all of them (every k-th connection, not the first to connect, whom a fan-out round may
serve first), `[close, arrived, read]` per bar event since the last `mark`: unix times
it reached the client's socket (the kernel's receive timestamp: on loopback, about when
the server wrote it) and this process read it (later by whatever this process, reading
every client on the same two cores, was busy with).

Each client is a bare `asyncio.Protocol` (on uvloop when it is installed): one callback
per read, events counted with `bytes.count`, no task, no line-by-line coroutine; only
the sampled clients (a socket read with `recvmsg` for its timestamps) read the clock and
split events. On two
cores shared with the worker, Kafka and PostgreSQL, a reader that costs tens of
microseconds per event would itself be what the benchmark measures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import socket
import struct
import sys
import time
from urllib.parse import urlsplit

import orjson

CONNECT_TIMEOUT_S = 120.0
BAR = b"event: bar\n"
#: Linux's socket option for receive timestamps in nanoseconds (not in Python's `socket`).
SO_TIMESTAMPNS = 35
DATA = b"data: "


class Reader(asyncio.Protocol):
    """One SSE client: counts `bar` events, and timestamps them when sampled."""

    def __init__(self, request: bytes, index: int, sample: bool, counts: list[int], samples: list[list[object]]):
        self.request = request
        self.received = 0
        self.index = index
        self.sample = sample
        self.counts = counts
        self.samples = samples
        self.head = b""
        self.headed: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.streaming = False
        #: A sampled client's incomplete last event; any other's last bytes, enough to
        #: hold all of `BAR` but its last byte (an event split over two reads).
        self.rest = b""
        self.transport: asyncio.Transport | None = None
        #: A sampled client's socket (read by `read_stamped`, not through a transport).
        self.sock: socket.socket | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport subclass
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes, arrived: float | None = None) -> None:
        """`data` read now; `arrived`: when the kernel received it (sampled clients)."""
        if not self.streaming:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            data, status = self.head[end + 4 :], self.head[: self.head.find(b"\r\n")]
            self.headed.set_result(status)
            self.streaming = True
        self.received += len(data)
        buffered = self.rest + data
        if not self.sample:
            self.counts[self.index] += buffered.count(BAR)
            self.rest = buffered[-len(BAR) + 1 :]
            return
        at = time.time()
        cut = buffered.rfind(b"\n\n") + 2
        whole, self.rest = buffered[:cut], buffered[cut:]
        bars = whole.count(BAR)
        self.counts[self.index] += bars
        start = 0
        while bars and (start := whole.find(BAR, start)) >= 0:
            begin = whole.index(DATA, start) + len(DATA)
            start = whole.index(b"\n", begin)
            self.samples.append([whole[begin:start], at if arrived is None else arrived, at])

    def read_stamped(self, sock: socket.socket) -> None:
        """A sampled client's socket is readable: read it with the kernel's receive time
        of its last segment (`SO_TIMESTAMPNS`), which does not include how long this
        process took to get to it."""
        try:
            data, ancillary, _, _ = sock.recvmsg(1 << 16, socket.CMSG_SPACE(16))
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.close()
            self.connection_lost(exc)
            return
        if not data:
            self.close()
            self.connection_lost(None)
            return
        arrived = None
        for level, kind, stamp in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = struct.unpack("qq", stamp)
                arrived = seconds + nanoseconds / 1e9
        self.data_received(data, arrived)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if self.sock is not None:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.headed.done():
            self.headed.set_exception(ConnectionError(f"client {self.index}: closed before the response head"))


async def connect(host: str, port: int, request: bytes, index: int, sample: bool, counts: list[int],
                  samples: list[list[object]]) -> Reader:  # fmt: skip
    loop = asyncio.get_running_loop()
    if sample:
        reader = Reader(request, index, sample, counts, samples)
        sock = reader.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        await loop.sock_connect(sock, (host, port))
        await loop.sock_sendall(sock, request)
        loop.add_reader(sock.fileno(), reader.read_stamped, sock)
    else:
        _, reader = await loop.create_connection(lambda: Reader(request, index, sample, counts, samples), host, port)
    status = await reader.headed
    if b" 200 " not in status:
        raise RuntimeError(f"client {index}: {status!r}")
    return reader


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--path", required=True, action="append", help="repeat: client n opens path n mod count")
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--sample", type=int, default=100)
    args = parser.parse_args()
    where = urlsplit(args.url)
    host, port = where.hostname or "127.0.0.1", where.port or 80
    requests = [
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode() for path in args.path
    ]
    counts = [0] * args.clients
    samples: list[list[object]] = []
    readers: list[Reader] = []
    sample: int = args.sample
    every: int = max(1, args.clients // max(1, sample))

    def sampled(n: int) -> bool:
        return n % every == 0 and n // every < sample

    for start in range(0, args.clients, 200):  # do not flood the listen backlog
        batch = range(start, min(args.clients, start + 200))
        pending = [connect(host, port, requests[n % len(requests)], n, sampled(n), counts, samples) for n in batch]
        readers += await asyncio.wait_for(asyncio.gather(*pending), CONNECT_TIMEOUT_S)
    gc.collect()
    gc.disable()  # a full collection (12-14 ms seen) would delay the stamps of every sampled client at once
    print("ready", flush=True)
    marked_counts, marked_bytes = [0] * args.clients, 0
    while (await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)).strip() == "mark":
        marked_counts, marked_bytes = list(counts), sum(reader.received for reader in readers)
        samples.clear()
    gc.enable()
    decoded = [[orjson.loads(data)["close"], arrived, at] for data, arrived, at in samples]  # type: ignore[arg-type]
    received = sum(reader.received for reader in readers)
    window = [now - then for now, then in zip(counts, marked_counts, strict=True)]
    result = {
        "counts": counts,
        "samples": decoded,
        "bytes": received,
        "window_counts": window,
        "window_bytes": received - marked_bytes,
    }
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    sys.stdout.flush()
    for reader in readers:
        reader.close()


def run() -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())


if __name__ == "__main__":
    run()
