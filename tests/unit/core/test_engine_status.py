"""What the engine reports: ready unless stalled or unseen for long; alive unless its loop hung."""

from __future__ import annotations

from candleflow.core.engine_status import HUNG_AFTER_S, UNKNOWN_AFTER_S, EngineStatus
from candleflow.core.stall import Assessment


def test_a_fresh_status_is_ready_and_alive() -> None:
    status = EngineStatus()
    assert status.readiness() is None and status.liveness() is None


def test_a_stall_is_not_ready_and_says_its_cause() -> None:
    status = EngineStatus(assessment=Assessment({0: 40, 1: 0}, {0: 21.0}), sampled_at=100.0)
    status.outage = "ConnectionRefusedError: [Errno 111] refused"
    reason = status.readiness(now=101.0)
    assert reason is not None
    assert "40 ticks waiting in partitions [0]" in reason and "no commit for 21 s" in reason
    assert "ConnectionRefusedError" in reason
    assert status.snapshot(now=101.0)["stalled"] is True
    assert status.liveness(now=101.0) is None  # a stall is no reason to restart


def test_a_stall_without_an_error_says_so() -> None:
    status = EngineStatus(assessment=Assessment({0: 3}, {0: 30.0}))
    assert "no error reported" in (status.stall_reason() or "")


def test_no_look_at_the_log_for_long_is_not_ready() -> None:
    status = EngineStatus(sampled_at=0.0, sample_error="database unreachable: OSError")
    assert status.readiness(now=UNKNOWN_AFTER_S - 1) is None
    assert "database unreachable" in (status.readiness(now=UNKNOWN_AFTER_S + 1) or "")


def test_only_a_loop_that_stopped_beating_is_not_alive() -> None:
    status = EngineStatus()
    status.beat()
    assert status.liveness(now=status.beat_at + HUNG_AFTER_S - 1) is None
    assert "hung" in (status.liveness(now=status.beat_at + HUNG_AFTER_S + 1) or "")
