"""The Faust side of a worker: one task that builds the `Worker` and runs it.

Faust gives the worker its process, web server and signal handling; the engine itself
reads `ticks.raw` with `candleflow.engine.reader.TickReader` (see `candleflow.worker`).
The web views see the worker (its status and SSE hub) from the moment it is open.
"""

from __future__ import annotations

from candleflow.app import app, settings
from candleflow.core import collector
from candleflow.web import runtime
from candleflow.web.routing import aiohttp_app
from candleflow.worker import Worker


@app.task
async def bar_engine() -> None:
    worker = await Worker.open(settings)
    collector.settle()
    slot = runtime.of(aiohttp_app)
    slot.attach(worker)
    try:
        await worker.run()
    except Exception as exc:
        slot.ended = f"{type(exc).__name__}: {exc}"[:300]
        raise
    finally:
        slot.detach()
        await worker.close()
