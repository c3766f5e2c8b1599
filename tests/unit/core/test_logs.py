"""CANDLEFLOW_LOG_LEVEL decides the Faust worker's level unless its command line sets one."""

from __future__ import annotations

import logging

import pytest

from candleflow.core.logs import configure, loglevel_given, worker_loglevel


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
