"""CANDLEFLOW_LOG_LEVEL decides the Faust worker's level unless its command line sets one, and
routine messages of client libraries never reach the default log."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from aiokafka import errors as Errors

from candleflow.core.logs import (
    PERSISTENT_S,
    Demotion,
    configure,
    loglevel_given,
    quiet_libraries,
    silenced,
    worker_loglevel,
)


@pytest.mark.parametrize(
    ("argv", "given"),
    [
        (["worker"], False),
        (["-A", "candleflow.app", "worker"], False),
        (["worker", "-l", "info"], True),
        (["worker", "--loglevel", "debug"], True),
        (["worker", "--loglevel=debug"], True),
        (["worker", "-linfo"], True),
        (["worker", "--web-port", "6066"], False),
    ],
)
def test_loglevel_given(argv: list[str], given: bool) -> None:
    assert loglevel_given(argv) is given


def test_the_setting_wins_over_faust_default_and_the_command_line_over_the_setting() -> None:
    assert worker_loglevel("WARN", "DEBUG", ["worker"]) == "DEBUG"  # "WARN" is Faust's default
    assert worker_loglevel("info", "ERROR", ["worker", "-l", "info"]) == "info"
    assert worker_loglevel(None, "WARNING", ["worker"]) == "WARNING"


def test_configure_sets_the_root_level_and_keeps_kafka_clients_quiet() -> None:
    root, client = logging.getLogger(), logging.getLogger("aiokafka")
    before = root.level, client.level
    try:
        configure("DEBUG")
        assert root.level == logging.DEBUG
        assert logging.getLogger("aiokafka").level == logging.WARNING
        configure("ERROR")
        assert root.level == logging.ERROR
        assert logging.getLogger("aiokafka").level == logging.ERROR
    finally:
        root.setLevel(before[0])
        client.setLevel(before[1])


class Keep(logging.Handler):
    def __init__(self, seen: list[logging.LogRecord]) -> None:
        super().__init__()
        self.seen = seen

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record)


@pytest.fixture
def info_log() -> Iterator[list[logging.LogRecord]]:
    """Records that reach a root handler while the root logger is at INFO (the default)."""
    root = logging.getLogger()
    seen: list[logging.LogRecord] = []
    handler = Keep(seen)
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    quiet_libraries()
    try:
        yield seen
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_routine_library_messages_leave_the_default_log_and_real_errors_stay(
    info_log: list[logging.LogRecord],
) -> None:
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    coordinator.error("Group Coordinator Request failed: %s", Errors.GroupCoordinatorNotAvailableError())
    coordinator.warning("Marking the coordinator dead (node %s)for group %s.", 1, "candleflow")
    logging.getLogger("aiokafka.consumer.fetcher").error(
        "Failed fetch offsets from %s: %s", 1, Errors.NotLeaderForPartitionError()
    )
    logging.getLogger("mode.timers").info("Timer %s woke up too late, with a drift of +%r", "commit", 0.5)
    assert info_log == [], [record.getMessage() for record in info_log]

    coordinator.error("Group Coordinator Request failed: %s", Errors.GroupAuthorizationFailedError())
    logging.getLogger("aiokafka.consumer.fetcher").error("Failed fetch messages from %s: %s", 1, "boom")
    assert [(r.levelname, r.getMessage()) for r in info_log] == [
        ("ERROR", "Group Coordinator Request failed: [Error 30] GroupAuthorizationFailedError"),
        ("ERROR", "Failed fetch messages from 1: boom"),
    ], "a non-retriable error, or another message, keeps its level"


def test_a_retried_condition_that_persists_is_a_warning_again() -> None:
    rule = Demotion("aiokafka.consumer.group_coordinator", "Group Coordinator Request failed", transient=True)
    assert [rule.level(t) for t in (0.0, 10.0, 20.0)] == [logging.DEBUG] * 3
    assert rule.level(PERSISTENT_S) == logging.WARNING, "30 s without a coordinator is a real problem"
    assert rule.level(PERSISTENT_S + 5) == logging.DEBUG, "said once per PERSISTENT_S"
    assert rule.level(2 * PERSISTENT_S + 1) == logging.WARNING
    assert rule.level(10 * PERSISTENT_S) == logging.DEBUG, "a pause longer than PERSISTENT_S starts a new streak"


def test_a_silenced_probe_leaves_the_library_logging_as_it_found_it(info_log: list[logging.LogRecord]) -> None:
    """The local stack's broker probe once left aiokafka at CRITICAL for the rest of the
    process, hiding real errors from whatever ran in it afterwards."""
    fetcher = logging.getLogger("aiokafka.consumer.fetcher")
    before = logging.getLogger("aiokafka").level
    with silenced("aiokafka"):
        fetcher.critical("Failed fetch messages from %s: %s", 1, "during the probe")
    assert info_log == []
    assert logging.getLogger("aiokafka").level == before
    fetcher.error("Failed fetch messages from %s: %s", 1, "after the probe")
    assert [r.getMessage() for r in info_log] == ["Failed fetch messages from 1: after the probe"]
