"""Where a failing function is reported: the log (with its name), `/metrics`
(`candleflow_function_errors_total{function=...}`) and `/healthz` (`engine.functions`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from candleflow.core import metrics
from candleflow.core.engine_status import EngineStatus
from candleflow.functions.recompute import Failure, SeriesKey

log = logging.getLogger(__name__)


def report_failures(key: SeriesKey, failures: Mapping[str, Failure], status: EngineStatus | None = None) -> None:
    """Log, count and (given the engine's `status`) show each function's failures in one
    recompute of series `key`."""
    for name, failure in failures.items():
        log.warning(
            "function %s failed at %d bar(s) of %s %s (no value stored there; other functions go on): %s",
            name,
            failure.count,
            key[0],
            key[1],
            failure.first,
        )
        metrics.FUNCTION_ERRORS.labels(name).inc(failure.count)
        if status is None:
            continue
        state = status.functions.setdefault(name, {"errors": 0})
        errors = state.get("errors", 0)
        state["errors"] = (errors if isinstance(errors, int) else 0) + failure.count
        state["last_error"] = f"{key[0]} {key[1]}: {failure.first}"
        state["last_error_at"] = round(time.time(), 3)
