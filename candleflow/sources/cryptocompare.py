"""CryptoCompare live trades: our own aiohttp client of the streamer websocket.

The client keeps one socket, subscribes the trade channel of every wanted symbol
(`SubAdd`), and hands each trade to a `TickSink` (the Kafka publisher, or an in-memory
collector in tests). It owns the connection's life:

* welcome (`20`): logs the socket count and rate-limit figures;
* heartbeat (`999`): two missed heartbeats close the socket and reconnect;
* `401`: stops with `Unauthorized` and a message about the API key;
* `429`: backs off as the message says (at least `rate_limit_delay`) and reconnects,
  or, for too many subscriptions, reports the refused channel and keeps the socket;
* `500` `INVALID_SUB` and friends: reports the channel and drops it, the others go on;
  `FORCE_DISCONNECT`: reconnects;
* any other loss: reconnects with capped exponential backoff and jitter, then
  resubscribes every wanted channel. Trades the streamer replays on subscribe are
  dropped by `RecentTrades` (exchange, pair, trade id), so a reconnect never publishes
  a duplicate; a client that starts afresh gets a `RecentTrades` seeded from the log
  (`candleflow.sources.log_tail.seeded_dedupe`), so a restart does not either.

Everything on the wire goes through a `Dialect` (`cryptocompare_protocol`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import aiohttp

from candleflow.core.feed_status import FeedStatus
from candleflow.sources import cryptocompare_events as events
from candleflow.sources import cryptocompare_protocol as cc
from candleflow.sources.dedupe import RecentTrades
from candleflow.sources.exceptions import ProtocolError, Unauthorized
from candleflow.sources.publisher import TickSink
from candleflow.sources.stream.backoff import Backoff, Timing

__all__ = ["CryptoCompareClient", "Timing"]

log = logging.getLogger(__name__)

DEFAULT_URL = "wss://streamer.cryptocompare.com/v2"
KEY_VARIABLE = "CANDLEFLOW_CRYPTOCOMPARE_API_KEY"


@dataclass(slots=True)
class ClientStats:
    connections: int = 0
    trades: int = 0
    duplicates: int = 0
    bad_trades: int = 0
    heartbeats: int = 0
    missed_heartbeat_reconnects: int = 0


class _Reconnect(Exception):
    """End the current socket; reconnect after at least `min_delay` seconds."""

    def __init__(self, reason: str, min_delay: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.min_delay = min_delay


class CryptoCompareClient:
    """Streams the trades of `symbols` into `sink` until `run`'s stop event is set."""

    def __init__(
        self,
        sink: TickSink,
        symbols: Iterable[str],
        *,
        api_key: str,
        url: str = DEFAULT_URL,
        dialect: cc.Dialect | None = None,
        timing: Timing | None = None,
        dedupe: RecentTrades | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        future_tolerance_s: float = 300.0,
        status: FeedStatus | None = None,
        name: str = "cryptocompare",
        drop_known: bool = True,
    ) -> None:
        if not api_key:
            raise Unauthorized(
                f"the CryptoCompare streamer needs an API key: set {KEY_VARIABLE} "
                "(create one at https://www.cryptocompare.com/cryptopian/api-keys)"
            )
        self.sink = sink
        self.dialect: cc.Dialect = dialect if dialect is not None else cc.LegacyDialect()
        self.wanted: set[str] = {self.dialect.channel(s) for s in symbols}
        self.active: set[str] = set()
        self.refused: dict[str, str] = {}
        self.stats = ClientStats()
        self.timing = timing if timing is not None else Timing()
        self._api_key = api_key
        self._url = url
        self._dedupe = dedupe if dedupe is not None else RecentTrades()
        #: False when the sink drops known trades itself (a `TradeGate`): the client's own
        #: filter would hide the replays from it
        self._drop_known = drop_known
        self._sleep = sleep
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._tolerance = future_tolerance_s
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._backoff = Backoff(self.timing, self._rng)
        self.delays = self._backoff.delays  # every reconnect delay chosen, newest last
        self.name = name
        self.status = status if status is not None else FeedStatus()
        self.status.register(name, [self.dialect.symbol(c) for c in sorted(self.wanted)])

    # ------------------------------------------------------------ subscriptions

    async def subscribe(self, symbols: Iterable[str]) -> None:
        channels = [self.dialect.channel(s) for s in symbols]
        new = [c for c in channels if c not in self.wanted]
        self.wanted.update(new)
        if new and self._ws is not None and not self._ws.closed:
            await self._ws.send_bytes(self.dialect.subscribe(sorted(new)))

    async def unsubscribe(self, symbols: Iterable[str]) -> None:
        channels = [c for c in (self.dialect.channel(s) for s in symbols) if c in self.wanted]
        self.wanted.difference_update(channels)
        if channels and self._ws is not None and not self._ws.closed:
            await self._ws.send_bytes(self.dialect.unsubscribe(sorted(channels)))

    # --------------------------------------------------------------------- run

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Stream until `stop` is set (or forever); raises `Unauthorized` on a refused key."""
        worker = asyncio.create_task(self._run_forever(), name="cryptocompare-client")
        waiter = asyncio.create_task((stop or asyncio.Event()).wait())
        try:
            await asyncio.wait({worker, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (worker, waiter):
                if not task.done():
                    task.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({worker})
        if worker.done() and not worker.cancelled():
            worker.result()

    async def _run_forever(self) -> None:
        """Reconnect for as long as the source runs.

        Not a retry library's loop: it never gives up, its backoff restarts whenever a
        socket delivered trades, and the server's own rate-limit message sets a floor
        under the next delay; the recorded `delays` and the injected `sleep` are the
        test seam."""
        while True:
            trades_before = self.stats.trades
            try:
                await self._connect_once()
                reason, floor = "connection closed by the streamer", 0.0
            except _Reconnect as exc:
                reason, floor = exc.reason, exc.min_delay
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                reason, floor = f"{type(exc).__name__}: {exc}", 0.0
            if self.stats.trades > trades_before:
                self._backoff.reset()  # the socket worked: start the backoff afresh
            self.status.disconnected(self.name, [self.dialect.symbol(c) for c in sorted(self.wanted)], reason)
            delay = self._backoff.next(floor)
            log.warning("CryptoCompare: %s; reconnecting in %.1f s", reason, delay)
            await self._sleep(delay)

    async def _connect_once(self) -> None:
        """One socket's life, from connect to close."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timing.connect_timeout)
        headers = {"Authorization": f"Apikey {self._api_key}"}
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.ws_connect(
                self._url, params={"api_key": self._api_key}, headers=headers, heartbeat=None, autoping=True
            ) as ws,
        ):
            self._ws = ws
            self.stats.connections += 1
            self.active.clear()
            try:
                log.info("CryptoCompare: connected to %s", self._url)
                channels = sorted(self.wanted)
                if channels:
                    await ws.send_bytes(self.dialect.subscribe(channels))
                await self._receive(ws)
            finally:
                self._ws = None

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        window = 2 * self.timing.heartbeat_interval
        deadline = self._clock() + window
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                self.stats.missed_heartbeat_reconnects += 1
                raise _Reconnect(f"no heartbeat for {window:.1f} s (two missed)")
            try:
                message = await ws.receive(timeout=remaining)
            except TimeoutError:
                continue
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return
            if message.type == aiohttp.WSMsgType.ERROR:
                raise _Reconnect(f"websocket error: {ws.exception()}")
            if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                continue
            try:
                event = self.dialect.parse(message.data, future_tolerance_s=self._tolerance)
            except ProtocolError as exc:
                log.warning("CryptoCompare: ignored a frame: %s", exc)
                self.status.not_understood(self.name)
                continue
            if isinstance(event, events.Heartbeat):
                self.stats.heartbeats += 1
                deadline = self._clock() + window
            else:
                await self._handle(event)

    # ------------------------------------------------------------------ events

    async def _handle(self, event: events.Event) -> None:
        match event:
            case events.Trade(tick=tick):
                if self._drop_known and self._dedupe.seen(tick):
                    self.stats.duplicates += 1
                    return
                self.stats.trades += 1
                await self.sink.publish(tick)
            case events.BadTrade(reason=reason, raw=raw, channel=channel, trade_id=trade_id):
                if channel and trade_id and self._dedupe.seen_key(f"{channel}!bad", trade_id):
                    self.stats.duplicates += 1  # the same bad trade, replayed on resubscribe
                    return
                self.stats.bad_trades += 1
                await self.sink.reject(raw, reason)
            case events.Welcome():
                self._welcome(event)
            case events.SubscribeComplete(channel=channel):
                self.active.add(channel)
                with contextlib.suppress(ValueError):
                    self.status.connected(self.name, [self.dialect.symbol(channel)])
            case events.UnsubscribeComplete(channel=channel):
                self.active.discard(channel)
            case events.LoadComplete():
                log.info(
                    "CryptoCompare: %d of %d channels live%s",
                    len(self.active),
                    len(self.wanted),
                    f"; refused: {', '.join(sorted(self.refused))}" if self.refused else "",
                )
            case events.UnsubscribeAllComplete():
                self.active.clear()
            case events.Unauthorized(message=message, info=info):
                raise Unauthorized(
                    f"CryptoCompare refused the API key ({message}{': ' + info if info else ''}). "
                    f"Set {KEY_VARIABLE} to a valid key with streaming access "
                    "(https://www.cryptocompare.com/cryptopian/api-keys)"
                )
            case events.RateLimited():
                self._rate_limited(event)
            case events.StreamerError():
                self._streamer_error(event)
            case _:
                pass

    def _welcome(self, event: events.Welcome) -> None:
        limits = ", ".join(f"{k.removeprefix('RATELIMIT_').lower()}={v}" for k, v in sorted(event.rate_limits.items()))
        log.info(
            "CryptoCompare welcome%s: sockets active %s, remaining %s; rate limits: %s",
            f" from {event.server}" if event.server else "",
            event.sockets_active,
            event.sockets_remaining,
            limits or "not given",
        )

    def _rate_limited(self, event: events.RateLimited) -> None:
        text = f"{event.message}{': ' + event.info if event.info else ''}"
        if event.kind == "too_many_subscriptions":
            channel = event.parameter
            if channel:
                self._refuse(channel, event.message)
            log.error(
                "CryptoCompare: too many subscriptions (%s)%s; the others go on",
                text,
                f", refused {channel}" if channel else "",
            )
            return
        floor = self.timing.rate_limit_delay
        if event.kind == "too_many_sockets":
            floor = max(floor, self.timing.too_many_sockets_delay)
        raise _Reconnect(f"rate limited ({text})", floor)

    def _refuse(self, channel: str, message: str) -> None:
        self.refused[channel] = message
        self.wanted.discard(channel)
        with contextlib.suppress(ValueError):
            self.status.refused(self.name, self.dialect.symbol(channel), f"CryptoCompare refused {channel}: {message}")

    def _streamer_error(self, event: events.StreamerError) -> None:
        text = f"{event.message}{': ' + event.info if event.info else ''}"
        if event.is_disconnect:
            raise _Reconnect(f"the streamer forced a disconnect ({text})", self.timing.min_reconnect_delay)
        if event.message == "SUBSCRIPTION_ALREADY_ACTIVE":
            log.debug("CryptoCompare: %s already active", event.parameter)
            return
        if event.is_channel_error and event.parameter:
            self._refuse(event.parameter, event.message)
            log.error("CryptoCompare refused channel %s (%s); the other channels go on", event.parameter, text)
            return
        log.error("CryptoCompare error %s%s", text, f" ({event.parameter})" if event.parameter else "")
