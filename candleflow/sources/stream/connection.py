"""One websocket's life: connect, send the subscriptions at the venue's pace, read until
the socket ends, and say why it ended.

The connection answers websocket pings itself (Binance drops a client whose pong does
not come within a minute) and sends the venue's own ping when it has one (OKX's text
`ping`, Kraken's `{"method": "ping"}`, Bitstamp's `bts:heartbeat`). It ends, raising
`Ended` with the reason, when nothing at all arrived for the venue's silence window,
when the connection reaches the venue's maximum age (reconnecting just before Binance's
24-hour cut instead of being cut), when the venue closes it, or when a frame asks for it
(`Reconnect` and `Fatal` events are the handler's to raise). Everything in between is the
handler's: each frame's events go to it in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable

import aiohttp

from candleflow.sources.stream.backoff import Timing
from candleflow.sources.stream.events import Event
from candleflow.sources.stream.pacing import Pace
from candleflow.sources.stream.protocol import ConnectionProtocol, Limits

#: Largest frame accepted (a Kraken or Coinbase snapshot of many pairs is a few hundred KB).
MAX_FRAME = 16 * 1024 * 1024
_CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


class Ended(Exception):
    """The connection is over; reconnect after at least `floor` seconds (`scheduled`:
    the venue's planned close or maintenance, reconnect at once)."""

    def __init__(self, reason: str, floor: float = 0.0, *, scheduled: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.floor = floor
        self.scheduled = scheduled


Handler = Callable[[list[Event]], Awaitable[None]]


class Connection:
    def __init__(
        self,
        protocol: ConnectionProtocol,
        limits: Limits,
        timing: Timing,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.protocol = protocol
        self.limits = limits
        self.timing = timing
        self.pace = Pace(limits.messages_per_second)
        self._clock = clock
        self.frames = 0

    async def run(self, handle: Handler, opened: Callable[[], Awaitable[None]]) -> None:
        """Connect, subscribe and read; always ends by raising `Ended` (or the handler's error)."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timing.connect_timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.ws_connect(
                    self.protocol.url(),
                    headers=self.protocol.headers(),
                    heartbeat=None,
                    autoping=False,
                    max_msg_size=MAX_FRAME,
                ) as ws,
            ):
                await opened()
                sending = asyncio.create_task(self._subscribe(ws), name="subscribe")
                try:
                    await self._read(ws, handle)
                finally:
                    sending.cancel()
                    with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError, ConnectionError):
                        await sending
        except aiohttp.WSServerHandshakeError as exc:
            floor = self.timing.rate_limit_delay if exc.status in (418, 429) else 0.0
            raise Ended(f"the venue refused the websocket (HTTP {exc.status} {exc.message})", floor) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise Ended(f"{type(exc).__name__}: {exc}") from None

    async def _send(self, ws: aiohttp.ClientWebSocketResponse, text: str) -> None:
        await self.pace.wait()
        await ws.send_str(text)

    async def _subscribe(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        for message in self.protocol.subscribe():
            await self._send(ws, message)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, handle: Handler) -> None:
        scale = self.timing.liveness_scale
        limits = self.limits
        silence = limits.silence * scale
        ping_every = None if limits.ping_interval is None else limits.ping_interval * scale
        ping = self.protocol.ping() if ping_every is not None else None
        started = last_frame = self._clock()
        retire_at = math.inf if limits.max_age is None else started + limits.max_age
        next_ping = math.inf if ping is None or ping_every is None else started + ping_every
        while True:
            now = self._clock()
            if now >= retire_at:
                hours = (limits.max_age or 0) / 3600
                raise Ended(f"the connection is {hours:g} h old: renewed before the venue cuts it", scheduled=True)
            if now - last_frame >= silence:
                raise Ended(f"nothing received for {silence:g} s")
            if ping is not None and ping_every is not None and now >= next_ping:
                await self._send(ws, ping)
                next_ping = now + ping_every
            wake = min(last_frame + silence, next_ping, retire_at)
            try:
                message = await ws.receive(timeout=max(wake - self._clock(), 0.001))
            except TimeoutError:
                continue
            last_frame = self._clock()
            kind = message.type
            if kind is aiohttp.WSMsgType.TEXT or kind is aiohttp.WSMsgType.BINARY:
                self.frames += 1
                await handle(self.protocol.parse(message.data))
            elif kind is aiohttp.WSMsgType.PING:
                await self.pace.wait()
                await ws.pong(message.data)
            elif kind is aiohttp.WSMsgType.PONG:
                continue
            elif kind in _CLOSED:
                code = ws.close_code
                raise Ended(f"closed by the venue (code {code}{': ' + str(message.extra) if message.extra else ''})")
            elif kind is aiohttp.WSMsgType.ERROR:
                raise Ended(f"websocket error: {ws.exception()}")
