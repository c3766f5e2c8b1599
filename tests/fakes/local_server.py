"""An aiohttp application served on 127.0.0.1 for a test's stand-in of a market-data
source: started on a free port, stopped with its websockets closed first."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiohttp import web


async def serve(app: web.Application, port: int = 0) -> tuple[web.AppRunner, int]:
    """`app` listening on 127.0.0.1:`port` (0: a free one); its runner and the port."""
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    server = site._server
    assert server is not None
    return runner, server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]


async def stop(runner: web.AppRunner | None, sockets: Iterable[web.WebSocketResponse] = ()) -> None:
    """Close the open websockets (a client sees a close frame, not a reset), then the server."""
    for ws in list(sockets):
        with contextlib.suppress(Exception):
            await ws.close()
    if runner is not None:
        await runner.cleanup()
