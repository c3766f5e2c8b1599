"""Pure parts of the stack launcher: ports, state file, exports, cluster ids."""

from __future__ import annotations

import re
import shlex
import socket
from pathlib import Path

import pytest

from candleflow.stack import PortBusy, StackInfo
from candleflow.stack.kafka import cluster_id
from candleflow.stack.ports import choose, free_port, is_free
from candleflow.stack.state import StackState


def test_choose_requested_port_that_is_busy_says_what_to_do() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not is_free(port)
        with pytest.raises(PortBusy, match=rf"port {port} busy.*CANDLEFLOW_STACK_PG_PORT"):
            choose(port, None, "CANDLEFLOW_STACK_PG_PORT", set())
        assert choose(0, port, "X", set()) != port  # previous port taken: pick another


def test_choose_keeps_a_free_previous_port_and_avoids_others() -> None:
    previous = free_port()
    assert choose(0, previous, "X", set()) == previous
    assert choose(0, previous, "X", {previous}) != previous


def test_state_round_trip(tmp_path: Path) -> None:
    assert StackState.load(tmp_path) == StackState()
    state = StackState(kafka_port=1, kafka_controller_port=2, kafka_pid=3, pg_port=4, pg_pid=5)
    state.save(tmp_path)
    assert StackState.load(tmp_path) == state


def test_info_env_is_what_the_other_commands_read(tmp_path: Path) -> None:
    info = StackInfo(tmp_path / "a b", kafka_port=9100, pg_port=5500, timescaledb=False)
    assert info.env() == {
        "CANDLEFLOW_KAFKA_BOOTSTRAP": "127.0.0.1:9100",
        "CANDLEFLOW_DATABASE_URL": "postgresql://candleflow@127.0.0.1:5500/candleflow",
        "CANDLEFLOW_STACK_DIR": str(tmp_path / "a b"),
    }
    line = f"export CANDLEFLOW_STACK_DIR={shlex.quote(info.env()['CANDLEFLOW_STACK_DIR'])}"
    assert shlex.split(line)[1] == f"CANDLEFLOW_STACK_DIR={tmp_path / 'a b'}"


def test_cluster_id_is_kafka_shaped() -> None:
    for _ in range(50):
        value = cluster_id()
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", value)
