"""A minimal keep-alive HTTP/1.1 GET client for latency benchmarks.

aiohttp's client spends a few hundred microseconds of Python per request building the
request and parsing the answer. Against a server answering in about a millisecond that is
a third of the figure, and it is the benchmark's cost, not the server's. This client writes
one request line and reads one `Content-Length` body off a connection it keeps open, which
is what a load tool such as wrk does. It is for measuring our own server only: it refuses
answers it does not understand (chunked bodies, closed connections) instead of guessing.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from urllib.parse import urlencode, urlsplit


class Answer:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body


class KeepAliveClient:
    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"expected http://host:port, got {base_url!r}")
        self.host, self.port = parts.hostname, parts.port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> KeepAliveClient:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()

    async def get(self, path: str, params: dict[str, str | int], headers: dict[str, str] | None = None) -> Answer:
        assert self._reader is not None and self._writer is not None, "use `async with`"
        target = f"{path}?{urlencode(params)}" if params else path
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self._writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{extra}\r\n".encode())
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise RuntimeError(f"answer without Content-Length (headers {headers}): not supported here")
        if headers.get("connection", "").lower() == "close":
            raise RuntimeError("the server closed the connection: keep-alive expected")
        body = await self._reader.readexactly(int(headers["content-length"]))
        return Answer(status, body)
