"""What a Faust worker runs: its web application, served from the worker's first moment,
and its one task, the `Worker` (engine, hub, feed).

Faust gives the worker its process, its signal handling and its consumer group; the
engine reads Kafka with its own reader (`candleflow.engine.reader.TickReader`, see
`candleflow.worker`). The web application (`candleflow.web.application`) is served by
aiohttp's runner (`Serving`), started before Faust joins its group so that `/healthz`
and `/livez` answer while the worker starts; Faust's own web server is off. The views
see the worker (its status and SSE hub) through the application's `Runtime` from the
moment it is open; until then `/healthz` says the engine is starting.
"""

from __future__ import annotations

from aiohttp import web

from candleflow.core import collector
from candleflow.core.settings import Settings
from candleflow.functions.registry import FunctionSet
from candleflow.web.application import create_web_app, serve
from candleflow.web.runtime import Runtime
from candleflow.worker import Worker


class Serving:
    """The web application of one worker process, from `start` to `stop`."""

    def __init__(self, settings: Settings, functions: FunctionSet) -> None:
        self.settings = settings
        self.functions = functions
        self.runtime = Runtime()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = create_web_app(self.settings, runtime=self.runtime, functions=self.functions)
        self._runner = await serve(app, self.settings)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


async def run_engine(settings: Settings, functions: FunctionSet, runtime: Runtime) -> None:
    """Open the worker, hand it to the web application's `runtime` and run it until
    cancelled; an error that ends it is kept for `/livez`."""
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
