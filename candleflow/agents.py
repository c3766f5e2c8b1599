"""The Faust side of a worker: one task that builds the `Worker` and runs it.

Faust gives the worker its process, web server and signal handling; the engine itself
reads `ticks.raw` with `candleflow.engine.reader.TickReader` (see `candleflow.worker`).
"""

from __future__ import annotations

from candleflow.app import app, settings
from candleflow.core.engine_status import STATUS
from candleflow.web.sse import hub
from candleflow.worker import Worker


@app.task
async def bar_engine() -> None:
    worker = await Worker.open(settings, status=STATUS, hub=hub)
    try:
        await worker.run()
    finally:
        await worker.close()
