"""The one task of a Faust worker: serve the web application and run the `Worker`.

Faust gives the worker its process, its signal handling and its consumer group; the
engine reads Kafka with its own reader (`candleflow.engine.reader.TickReader`, see
`candleflow.worker`) and the web application (`candleflow.web.application`) is served
by aiohttp's runner here, beside it: Faust's own web server is off. The views see the
worker (its status and SSE hub) through the application's `Runtime` from the moment it
is open; until then `/healthz` says the engine is starting.
"""

from __future__ import annotations

from candleflow.core import collector
from candleflow.core.settings import Settings
from candleflow.functions.registry import FunctionSet
from candleflow.web.application import create_web_app, serve
from candleflow.web.runtime import Runtime
from candleflow.worker import Worker


async def run_worker(settings: Settings, functions: FunctionSet) -> None:
    """Serve the web application, open the worker and run it until cancelled."""
    runtime = Runtime()
    runner = await serve(create_web_app(settings, runtime=runtime, functions=functions), settings)
    try:
        worker = await Worker.open(settings, functions)
        collector.settle()
        runtime.attach(worker)
        try:
            await worker.run()
        except Exception as exc:
            runtime.ended = f"{type(exc).__name__}: {exc}"[:300]
            raise
        finally:
            runtime.detach()
            await worker.close()
    finally:
        await runner.cleanup()
