"""`Stack`: the local Kafka + PostgreSQL pair behind `make run`, the tests and the benchmarks.

Both services run in the background in their own sessions, keep data and logs under
`stack_dir`, and are described in `stack_dir/stack.json` so `down` and `status` work
from any later process. `up` is idempotent: it starts only what is not running.
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from candleflow.stack import procs
from candleflow.stack.exceptions import StackError
from candleflow.stack.kafka import KafkaServer
from candleflow.stack.ports import choose
from candleflow.stack.postgres import PostgresServer, url
from candleflow.stack.state import StackState, locked

KAFKA_START_TIMEOUT = 180.0
PG_START_TIMEOUT = 90.0


@dataclass(frozen=True)
class StackInfo:
    """Where a running stack answers."""

    stack_dir: Path
    kafka_port: int
    pg_port: int
    timescaledb: bool

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def database_url(self) -> str:
        return url(self.pg_port)

    def env(self) -> dict[str, str]:
        """The variables that point every other candleflow command at this stack."""
        return {
            "CANDLEFLOW_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "CANDLEFLOW_DATABASE_URL": self.database_url,
            "CANDLEFLOW_STACK_DIR": str(self.stack_dir),
        }


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Stack:
    """Start, stop and inspect the stack in `stack_dir`.

    `kafka_port` / `pg_port` of 0 pick free ports (the previous ones when still free).
    `jar_dir` holds the Kafka jars (default `stack_dir/kafka/libs`); tests point it at
    a shared cache so that a fresh temporary stack does not resolve them again.
    """

    def __init__(
        self,
        stack_dir: Path,
        kafka_port: int = 0,
        pg_port: int = 0,
        jar_dir: Path | None = None,
        quiet: bool = False,
    ) -> None:
        self.stack_dir = Path(stack_dir).expanduser().absolute()
        self.kafka_port = kafka_port
        self.pg_port = pg_port
        self.quiet = quiet
        self._port_wait = 0.0  # restarts after a crash wait for the old sockets to go
        self.kafka = KafkaServer(self.stack_dir / "kafka", jar_dir or self.stack_dir / "kafka" / "libs")
        self.postgres = PostgresServer(self.stack_dir / "postgres")

    # -- state ---------------------------------------------------------------

    def _state(self) -> StackState:
        return StackState.load(self.stack_dir)

    def _save(self, state: StackState) -> None:
        self.stack_dir.mkdir(parents=True, exist_ok=True)
        state.save(self.stack_dir)

    def _lock(self) -> AbstractContextManager[None]:
        return locked(self.stack_dir / ".lock")

    def _info(self, state: StackState) -> StackInfo:
        assert state.kafka_port and state.pg_port
        return StackInfo(self.stack_dir, state.kafka_port, state.pg_port, state.timescaledb)

    def _log(self, message: str) -> None:
        if not self.quiet:
            _say(message)

    # -- lifecycle -----------------------------------------------------------

    def up(self) -> StackInfo:
        """Start whatever is not running, wait until both answer, return where they are."""
        self.stack_dir.mkdir(parents=True, exist_ok=True)
        with self._lock():
            state = self._state()
            started: list[str] = []
            try:
                self._up_kafka_process(state, started)
                self._up_postgres(state, started)
                assert state.kafka_pid and state.kafka_port
                self.kafka.wait_ready(state.kafka_pid, state.kafka_port, KAFKA_START_TIMEOUT)
            except BaseException:
                self._stop_started(started, state)
                raise
            if started:
                self._log(f"kafka {self.kafka_version()}: 127.0.0.1:{state.kafka_port}")
                self._log(f"postgresql: 127.0.0.1:{state.pg_port}")
            self._log("timescaledb: enabled" if state.timescaledb else "timescaledb: not available (plain PostgreSQL)")
            return self._info(state)

    def _up_kafka_process(self, state: StackState, started: list[str]) -> None:
        if self.kafka.is_kafka(state.kafka_pid):
            return
        for pid in self.kafka.stray_pids():
            procs.stop_group(pid)
        taken = {state.pg_port} if self.postgres.pid() and state.pg_port else set()
        state.kafka_port = choose(
            self.kafka_port, state.kafka_port, "CANDLEFLOW_STACK_KAFKA_PORT", taken, wait=self._port_wait
        )
        state.kafka_controller_port = choose(0, state.kafka_controller_port, "", taken | {state.kafka_port})
        self._log(f"starting Kafka on 127.0.0.1:{state.kafka_port} (log: {self.kafka.log_path})")
        self.kafka.prepare(state.kafka_port, state.kafka_controller_port)
        state.kafka_pid = self.kafka.start()
        started.append("kafka")
        self._save(state)

    def _up_postgres(self, state: StackState, started: list[str]) -> None:
        pid = self.postgres.pid()
        if pid is None:
            taken = {p for p in (state.kafka_port, state.kafka_controller_port) if p}
            state.pg_port = choose(self.pg_port, state.pg_port, "CANDLEFLOW_STACK_PG_PORT", taken, wait=self._port_wait)
            self._log(f"starting PostgreSQL on 127.0.0.1:{state.pg_port} (log: {self.postgres.log_path})")
            self.postgres.prepare(state.pg_port)
            pid = self.postgres.start()
            started.append("postgres")
        state.pg_pid = pid
        self._save(state)
        assert state.pg_port
        self.postgres.wait_ready(state.pg_port, PG_START_TIMEOUT)
        state.timescaledb = self.postgres.ensure_database(state.pg_port)
        self._save(state)

    def _stop_started(self, started: list[str], state: StackState) -> None:
        """Undo a failed `up`: stop what this call started, keep what already ran."""
        if "kafka" in started and state.kafka_pid:
            procs.stop_group(state.kafka_pid, timeout=15)
            state.kafka_pid = None
        if "postgres" in started:
            self.postgres.stop("immediate")
            state.pg_pid = None
        self._save(state)

    def down(self) -> None:
        """Stop both services; returns only when no process of this stack is left."""
        with self._lock():
            state = self._state()
            kafka_pids = [state.kafka_pid] if state.kafka_pid and self.kafka.is_kafka(state.kafka_pid) else []
            for pid in sorted({*kafka_pids, *self.kafka.stray_pids()}):
                self._log(f"stopping Kafka (pid {pid})")
                procs.stop_group(pid, timeout=30)
            pg_pid = self.postgres.pid()
            if pg_pid is not None:
                self._log(f"stopping PostgreSQL (pid {pg_pid})")
                self.postgres.stop("fast")
            state.kafka_pid = None
            state.pg_pid = None
            if self.stack_dir.is_dir():
                self._save(state)
            left = [p for p in [*self.kafka.stray_pids(), self.postgres.pid()] if p]
            if left:
                raise StackError(f"processes {left} of the stack in {self.stack_dir} survived")

    def status(self) -> str:
        """What runs where, one line per service."""
        state = self._state()
        lines = [f"stack dir: {self.stack_dir}"]
        if self.kafka.is_kafka(state.kafka_pid):
            lines.append(
                f"kafka {self.kafka_version()}: running, pid {state.kafka_pid}, "
                f"127.0.0.1:{state.kafka_port} (log: {self.kafka.log_path})"
            )
        else:
            lines.append("kafka: stopped")
        pg_pid = self.postgres.pid()
        if pg_pid is not None:
            lines.append(
                f"postgresql: running, pid {pg_pid}, 127.0.0.1:{state.pg_port} (log: {self.postgres.log_path})"
            )
            lines.append(
                "timescaledb: enabled" if state.timescaledb else "timescaledb: not available (plain PostgreSQL)"
            )
        else:
            lines.append("postgresql: stopped")
        return "\n".join(lines)

    def running(self) -> StackInfo | None:
        """Where the stack answers, or None unless both services run."""
        state = self._state()
        if self.kafka.is_kafka(state.kafka_pid) and self.postgres.pid() is not None:
            return self._info(state)
        return None

    @staticmethod
    def kafka_version() -> str:
        from candleflow.stack.kafka import KAFKA_VERSION

        return KAFKA_VERSION

    # -- crash-test controls -------------------------------------------------

    def kill_kafka(self) -> None:
        """SIGKILL the broker (no clean shutdown) and wait until it is gone."""
        with self._lock():
            state = self._state()
            for pid in sorted({*[p for p in [state.kafka_pid] if p], *self.kafka.stray_pids()}):
                procs.kill_group(pid)
            state.kafka_pid = None
            self._save(state)

    def start_kafka(self) -> None:
        """Start the broker again on its previous port and wait until it answers."""
        with self._lock():
            state = self._state()
            if not state.kafka_port:
                raise StackError("start_kafka() needs a stack that was up before: call up()")
            if not self.kafka.is_kafka(state.kafka_pid):
                self.kafka_port, self._port_wait = state.kafka_port, 30.0
                self._up_kafka_process(state, [])
            assert state.kafka_pid and state.kafka_port
            self.kafka.wait_ready(state.kafka_pid, state.kafka_port, KAFKA_START_TIMEOUT)

    def stop_postgres(self, mode: str = "immediate") -> None:
        """Stop PostgreSQL with pg_ctl's `mode` (immediate = crash-like, recovery on start)."""
        with self._lock():
            self.postgres.stop(mode)
            state = self._state()
            state.pg_pid = None
            self._save(state)

    def start_postgres(self) -> None:
        """Start PostgreSQL again on its previous port and wait until it answers."""
        with self._lock():
            state = self._state()
            if not state.pg_port:
                raise StackError("start_postgres() needs a stack that was up before: call up()")
            self.pg_port, self._port_wait = state.pg_port, 30.0
            self._up_postgres(state, [])
