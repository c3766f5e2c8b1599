"""Fixtures: the real Kafka + PostgreSQL stack (once per session), a fresh database and
fresh Kafka names per test, and worker subprocesses. Nothing is mocked."""

from __future__ import annotations

import shutil
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import settings

from candleflow.stack import KafkaSecurity, Stack, StackInfo, aio
from candleflow.store.migrate import migrate
from tests.harness import Names, WorkerFactory, jar_cache, temporary_stack_dir
from tests.harness.databases import fresh_database, prepare_template
from tests.harness.scheduling import SecuredTogether, unlisted_secured_files

#: Tests never depend on wall-clock speed: no Hypothesis example may fail for taking long
#: (its default 200 ms deadline failed a correct test on a loaded machine).
settings.register_profile("candleflow", deadline=None)
settings.load_profile("candleflow")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # A SIGTERM (CI cancel, `timeout`) becomes KeyboardInterrupt, so pytest still runs
    # the session teardown that stops Kafka and PostgreSQL.
    signal.signal(signal.SIGTERM, _interrupt)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> SecuredTogether | None:
    """`--dist loadfile` with one worker for the secured stack's files (`tests.harness.scheduling`)."""
    return SecuredTogether(config, log) if config.getoption("dist") == "loadfile" else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if unlisted := unlisted_secured_files(items):
        raise pytest.UsageError(f"add {sorted(unlisted)} to tests.harness.scheduling.SECURED_FILES")


def running(control: Stack, directory: Path) -> Iterator[Stack]:
    """`control`'s stack up, its `candleflow` database and the per-test template migrated,
    until the generator ends; then down, its directory removed, and no process of it left."""
    left: list[int] = []
    try:
        info = control.up()
        aio.run(lambda: migrate(info.database_url))
        aio.run(lambda: prepare_template(info))
        yield control
    finally:
        try:
            control.down()
            left = control.processes()
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    assert left == [], f"processes {left} of the stack in {directory} survived `down`"


@pytest.fixture(scope="session")
def stack_control() -> Iterator[Stack]:
    """The session's `Stack` (for crash tests: kill_kafka, stop_postgres, ...)."""
    directory = temporary_stack_dir()
    yield from running(Stack(directory, jar_dir=jar_cache(), quiet=True), directory)


@pytest.fixture(scope="session")
def stack(stack_control: Stack) -> StackInfo:
    """Where the session's stack answers; its `candleflow` database is migrated, and so is
    the template every per-test database is copied from."""
    return stack_control.up()


@pytest.fixture(scope="session")
def secured_stack_control() -> Iterator[Stack]:
    """A second stack, started only for the tests that ask for it: Kafka with SSL
    (client certificates required), SASL_SSL and SASL_PLAINTEXT listeners beside its
    PLAINTEXT one, PostgreSQL with TLS, and a streaming replica. Its `candleflow`
    database is migrated, and so is the template of its per-test databases
    (`secured_database_url`)."""
    directory = temporary_stack_dir("candleflow-test-secured-")
    control = Stack(
        directory,
        jar_dir=jar_cache(),
        quiet=True,
        kafka_security=KafkaSecurity(("SASL_SSL", "SSL", "SASL_PLAINTEXT"), client_auth="required"),
        pg_tls=True,
        replica=True,
    )
    yield from running(control, directory)


@pytest.fixture(scope="session")
def secured_stack(secured_stack_control: Stack) -> StackInfo:
    """Where the secured stack answers (see `secured_stack_control`)."""
    return secured_stack_control.up()


@pytest.fixture
async def database_url(stack: StackInfo) -> AsyncIterator[str]:
    """A fresh migrated database for this test (a copy of the template); dropped afterwards."""
    async with fresh_database(stack) as url:
        yield url


@pytest.fixture
async def secured_database_url(secured_stack: StackInfo) -> AsyncIterator[str]:
    """A fresh migrated database of the secured stack's primary (the replica follows it)."""
    async with fresh_database(secured_stack) as url:
        yield url


@pytest.fixture
async def second_database(stack: StackInfo) -> AsyncIterator[str]:
    """Another fresh, migrated database, for comparing two runs."""
    async with fresh_database(stack) as url:
        yield url


@pytest.fixture
def names() -> Names:
    """Unique topic names and app id (consumer group) for this test."""
    return Names.fresh()


@pytest.fixture
def worker_factory(tmp_path: Path) -> Iterator[WorkerFactory]:
    """`worker_factory.start(env)` runs `candleflow worker`; all are stopped at teardown."""
    factory = WorkerFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()
