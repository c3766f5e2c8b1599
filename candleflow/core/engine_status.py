"""What a worker's bar engine reports about itself, for `/healthz`, `/livez` and `/metrics`.

The worker owns one (`candleflow.worker.Worker.status`); the engine, its runner, its
dead-letter outbox and its monitor update it, and the web views only read it.

* **Readiness** (`readiness`): the engine is not stalled (`candleflow.core.stall`, from
  the monitor's samples) and the monitor could look at the log and the ledger lately.
* **Liveness** (`liveness`): the engine's loop is turning. The reader stamps `beat` every
  time round its loop (a fetch waits at most a second) and the runner on every attempt
  of a commit, outages included; only a loop stuck for `HUNG_AFTER_S` — a hung
  connection, a wedged task — asks for a restart. Dependencies being down never does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from candleflow.core.stall import Assessment

#: No beat for this long: the engine's loop is stuck and the process must be restarted.
HUNG_AFTER_S = 180.0
#: The monitor's last complete sample is this old: the engine's state is unknown.
UNKNOWN_AFTER_S = 30.0


@dataclass
class EngineStatus:
    #: Messages in the ticks topic not yet absorbed (log end - ledger), per partition held.
    lag: dict[int, int] = field(default_factory=dict)
    ticks_processed: int = 0
    last_batch_at: float | None = None
    last_error: str | None = None
    #: function key -> {"errors": bars failed, "last_error": text, "last_error_at": unix s}
    functions: dict[str, dict[str, object]] = field(default_factory=dict)
    #: Set while commits fail for an outage (database or broker down): what failed, since when.
    outage: str | None = None
    outage_since: float | None = None
    #: Records dead-lettered because the store refused them (not validation).
    store_refused: int = 0
    #: Dead letters committed but not yet acknowledged by the broker.
    dead_letters_pending: int = 0
    #: The monitor's latest assessment, when (monotonic) its last complete sample was
    #: taken, and why the last one was incomplete (None: it was complete).
    assessment: Assessment = field(default_factory=Assessment)
    sampled_at: float | None = None
    sample_error: str | None = None
    #: monotonic time of the engine loop's last beat.
    beat_at: float = field(default_factory=time.monotonic)

    def beat(self) -> None:
        self.beat_at = time.monotonic()

    def stall_reason(self) -> str | None:
        """Why the engine is stalled, with its likely cause; None when it is not."""
        stalled = self.assessment.stalled
        if not stalled:
            return None
        waiting = sum(self.assessment.lag.get(p, 0) for p in stalled)
        cause = self.outage or self.last_error or "no error reported (a lock, a hung connection?)"
        return (
            f"engine stalled: {waiting} ticks waiting in partitions {sorted(stalled)}, "
            f"no commit for {max(stalled.values()):.0f} s; cause: {cause}"
        )

    def readiness(self, now: float | None = None) -> str | None:
        """Why this worker's engine is not ready; None when it is."""
        now = time.monotonic() if now is None else now
        reason = self.stall_reason()
        if reason is not None:
            return reason
        if self.sampled_at is not None and now - self.sampled_at > UNKNOWN_AFTER_S:
            age = now - self.sampled_at
            return f"engine state unknown: no look at the log and ledger for {age:.0f} s ({self.sample_error})"
        return None

    def liveness(self, now: float | None = None) -> str | None:
        """Why this process must be restarted; None when it need not be."""
        now = time.monotonic() if now is None else now
        if now - self.beat_at > HUNG_AFTER_S:
            return f"engine loop hung: no progress of its loop for {now - self.beat_at:.0f} s"
        return None

    def snapshot(self, now: float | None = None) -> dict[str, object]:
        now = time.monotonic() if now is None else now
        return {
            "partitions": {str(p): n for p, n in sorted(self.lag.items())},
            "total": sum(self.lag.values()),
            "ticks_processed": self.ticks_processed,
            "last_batch_age_s": None if self.last_batch_at is None else round(time.time() - self.last_batch_at, 3),
            "last_error": self.last_error,
            "stalled": self.assessment.is_stalled,
            "stalled_partitions": {str(p): round(s, 1) for p, s in sorted(self.assessment.stalled.items())},
            "outage": self.outage,
            "store_refused": self.store_refused,
            "dead_letters_pending": self.dead_letters_pending,
            "sample_age_s": None if self.sampled_at is None else round(now - self.sampled_at, 3),
            "functions": {name: dict(state) for name, state in sorted(self.functions.items())},
        }
