"""The limits of one web process, per client: requests per second, open streams and
their subscriptions (`candleflow.access.limits` does the counting).

A client is the holder of a valid access token, else its address: the peer's, or with
`CANDLEFLOW_PROXY_HOPS` = N the address the N-th reverse proxy from here saw (the N-th
entry of `X-Forwarded-For` from its end: entries further left are whatever the client
wrote). IPv6 addresses count by their /64 network, the block one subscriber usually
holds, so that one host cannot take a fresh address per request. Per-client caps sit
below the process's (`CANDLEFLOW_SSE_MAX_CLIENTS`): one address cannot take every
stream and lock the others out.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

from aiohttp import web

from candleflow.access.limits import Counts, RateLimiter
from candleflow.core.settings import Settings


@dataclass
class WebLimits:
    #: None: no request rate limit (`CANDLEFLOW_RATE_LIMIT=0`).
    rate: RateLimiter | None
    streams: Counts
    subscriptions: Counts
    proxy_hops: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> WebLimits:
        rate = RateLimiter(settings.rate_limit, settings.rate_burst) if settings.rate_limit > 0 else None
        return cls(
            rate=rate,
            streams=Counts(settings.sse_max_per_client),
            subscriptions=Counts(settings.sse_max_subs_per_client),
            proxy_hops=settings.proxy_hops,
        )

    def address(self, request: web.Request) -> str:
        """The client's address (see the module docstring)."""
        peer = request.remote or "unknown"
        if self.proxy_hops:
            forwarded = [a.strip() for a in ",".join(request.headers.getall("X-Forwarded-For", ())).split(",")]
            if len(forwarded) >= self.proxy_hops and forwarded[-self.proxy_hops]:
                peer = forwarded[-self.proxy_hops]
        return network_of(peer)


@functools.lru_cache(maxsize=4096)
def network_of(address: str) -> str:
    """`address` itself, or the /64 network of an IPv6 address (`2001:db8:1:2::/64`)."""
    if ":" not in address:
        return address
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address[:64]
    if not isinstance(parsed, ipaddress.IPv6Address):
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
