"""Which asyncio event loop a worker runs on (`CANDLEFLOW_EVENT_LOOP`).

uvloop by default: the worker's hot paths are socket writes (one per SSE client per
update), HTTP requests and Kafka/PostgreSQL protocol reads, which libuv's loop and
transports do at a fraction of the standard library's cost. `asyncio` keeps the
standard loop, for debugging or a platform without uvloop.
"""

from __future__ import annotations

import asyncio


def install(name: str) -> None:
    """Build every later event loop of this process with `name` (`uvloop` or `asyncio`)."""
    if name == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    else:
        asyncio.set_event_loop_policy(None)
