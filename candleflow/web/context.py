"""What the views of one web application share, built once by its factory.

`create_web_app` (`candleflow.web.application`) builds one `WebContext` from the settings,
the database (and the read replica), the runtime (where the running worker's status and
SSE hub are found), the functions this process computes, its Bar Replays and its
streamed quotes, and stores it under `CONTEXT`. A view reads it with
`context(request)`; nothing a view needs lives in a module global, so each view can be
served in-process by an application built for a test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from candleflow.core.settings import Settings
from candleflow.functions.registry import FunctionSet
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.probe import KafkaProbe
from candleflow.replay.registry import Replays
from candleflow.store.database import Database
from candleflow.store.probe import DatabaseProbe
from candleflow.store.replica import Reads
from candleflow.web.cors import Cors
from candleflow.web.limits import WebLimits
from candleflow.web.quote_board import QuoteBoard
from candleflow.web.rejections import Rejections
from candleflow.web.runtime import Runtime
from candleflow.web.symbols_cache import SymbolCache


@dataclass
class WebContext:
    settings: Settings
    #: The primary: the streams' current bars and quotes, and the hub's re-reads.
    database: Database
    #: History, indicators, marks, quotes, symbols and Bar Replays: the read replica while it keeps up.
    reads: Reads
    runtime: Runtime
    functions: FunctionSet
    kafka: KafkaConfig
    kafka_probe: KafkaProbe
    #: `/healthz`'s database probe, on a connection of its own.
    database_probe: DatabaseProbe
    #: The Bar Replays this process runs, capped (`candleflow.replay.registry`).
    replays: Replays
    #: The quotes streams follow (`candleflow.web.quote_board`).
    quotes: QuoteBoard
    #: Per-client limits of this process (`candleflow.web.limits`).
    limits: WebLimits
    #: Symbol look-ups of this process (`candleflow.web.symbols_cache`).
    symbols: SymbolCache = field(default_factory=SymbolCache)
    #: `/openapi.json`, rendered once from the settings (`candleflow.web.openapi.spec`).
    spec: dict[str, Any] = field(default_factory=dict)
    #: Which other origins' pages may read (`candleflow.web.cors`).
    cors: Cors = field(default_factory=lambda: Cors(("*",)))
    #: Refused requests and dropped clients, counted and logged sparingly.
    rejections: Rejections = field(default_factory=Rejections)


CONTEXT = web.AppKey("candleflow.context", WebContext)


def context(request: web.Request) -> WebContext:
    """The context of the application serving `request`."""
    return request.app[CONTEXT]
