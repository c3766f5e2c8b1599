"""What a worker's bar engine reports about itself, for `/healthz`.

The worker owns one (`candleflow.worker.Worker.status`); the engine updates it and
the web views only read it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class EngineStatus:
    #: Messages in the ticks topic not yet absorbed, per partition assigned to this worker.
    lag: dict[int, int] = field(default_factory=dict)
    ticks_processed: int = 0
    last_batch_at: float | None = None
    last_error: str | None = None
    #: function key -> {"errors": bars failed, "last_error": text, "last_error_at": unix s}
    functions: dict[str, dict[str, object]] = field(default_factory=dict)

    def snapshot(self) -> dict[str, object]:
        return {
            "partitions": {str(p): n for p, n in sorted(self.lag.items())},
            "total": sum(self.lag.values()),
            "ticks_processed": self.ticks_processed,
            "last_batch_age_s": None if self.last_batch_at is None else round(time.time() - self.last_batch_at, 3),
            "last_error": self.last_error,
            "functions": {name: dict(state) for name, state in sorted(self.functions.items())},
        }
