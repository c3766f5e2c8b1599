"""Helpers for candleflow's tests: the real stack, per-test names, worker processes and
Kafka read/write helpers. Fixtures wrapping them live in `tests/conftest.py`."""

from tests.harness.kafka import Record, consume_all, create_topics
from tests.harness.names import Names
from tests.harness.stack import jar_cache, temporary_stack_dir
from tests.harness.worker import WorkerFactory, WorkerProcess

__all__ = [
    "Names",
    "Record",
    "WorkerFactory",
    "WorkerProcess",
    "consume_all",
    "create_topics",
    "jar_cache",
    "temporary_stack_dir",
]
