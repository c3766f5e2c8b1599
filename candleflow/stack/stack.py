"""`Stack`: the local Kafka + PostgreSQL pair behind `make run`, the tests and the benchmarks.

Both services run in the background in their own sessions, keep data and logs under
`stack_dir`, and are described in `stack_dir/stack.json` so `down` and `status` work
from any later process. `up` is idempotent: it starts only what is not running.
"""

from __future__ import annotations

import shutil
import sys
from contextlib import AbstractContextManager
from pathlib import Path

from candleflow.stack import aio, procs
from candleflow.stack.exceptions import StackError
from candleflow.stack.info import StackInfo, tls_files
from candleflow.stack.kafka import KafkaServer
from candleflow.stack.kafka_security import KafkaSecurity
from candleflow.stack.ports import choose
from candleflow.stack.postgres import PostgresServer
from candleflow.stack.replica import ReplicaLag, drop_slot, replica_lag
from candleflow.stack.state import StackState, locked
from candleflow.stack.tls import TlsFiles, ensure_tls

KAFKA_START_TIMEOUT = 180.0
PG_START_TIMEOUT = 90.0

__all__ = ["Stack", "StackInfo"]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Stack:
    """Start, stop and inspect the stack in `stack_dir`.

    `kafka_port` / `pg_port` of 0 pick free ports (the previous ones when still free).
    `jar_dir` holds the Kafka jars (default `stack_dir/kafka/libs`); tests point it at
    a shared cache so that a fresh temporary stack does not resolve them again.

    `kafka_security`, `pg_tls` and `replica` ask for secured Kafka listeners, TLS on
    PostgreSQL and a streaming read replica; None keeps what the stack directory was last
    brought up with (a new stack: plaintext, no TLS, no replica). A running service whose
    configuration differs is restarted.
    """

    def __init__(
        self,
        stack_dir: Path,
        kafka_port: int = 0,
        pg_port: int = 0,
        jar_dir: Path | None = None,
        quiet: bool = False,
        kafka_security: KafkaSecurity | None = None,
        pg_tls: bool | None = None,
        replica: bool | None = None,
    ) -> None:
        self.stack_dir = Path(stack_dir).expanduser().absolute()
        self.kafka_port = kafka_port
        self.pg_port = pg_port
        self.quiet = quiet
        self.kafka_security = kafka_security
        self.pg_tls = pg_tls
        self.replica = replica
        self._port_wait = 0.0  # restarts after a crash wait for the old sockets to go
        self.kafka = KafkaServer(self.stack_dir / "kafka", jar_dir or self.stack_dir / "kafka" / "libs")
        self.postgres = PostgresServer(self.stack_dir / "postgres")
        self.standby = PostgresServer(self.stack_dir / "replica")

    # -- state ---------------------------------------------------------------

    def _state(self) -> StackState:
        return StackState.load(self.stack_dir)

    def _save(self, state: StackState) -> None:
        self.stack_dir.mkdir(parents=True, exist_ok=True)
        state.save(self.stack_dir)

    def _lock(self) -> AbstractContextManager[None]:
        return locked(self.stack_dir / ".lock")

    @staticmethod
    def _security(state: StackState) -> KafkaSecurity:
        return KafkaSecurity(tuple(state.kafka_security), state.sasl_mechanism, state.kafka_client_auth)

    def configured_security(self) -> KafkaSecurity:
        """The Kafka security the stack directory was last brought up with."""
        return self._security(self._state())

    def _info(self, state: StackState) -> StackInfo:
        assert state.kafka_port and state.pg_port
        security = self._security(state)
        return StackInfo(
            self.stack_dir,
            state.kafka_port,
            state.pg_port,
            state.timescaledb,
            kafka_security=security,
            kafka_secure_ports=tuple((p, state.kafka_secure_ports[p]) for p in security.protocols),
            pg_tls=state.pg_tls,
            replica_port=state.replica_port if state.replica else None,
        )

    def _log(self, message: str) -> None:
        if not self.quiet:
            _say(message)

    def _tls(self, state: StackState) -> TlsFiles | None:
        if state.pg_tls or self._security(state).tls:
            return ensure_tls(tls_files(self.stack_dir).directory)
        return None

    # -- lifecycle -----------------------------------------------------------

    def up(self) -> StackInfo:
        """Start whatever is not running (restart what runs with another configuration),
        wait until everything answers, return where it is."""
        self.stack_dir.mkdir(parents=True, exist_ok=True)
        with self._lock():
            state = self._state()
            started: list[str] = []
            try:
                self._apply_requests(state)
                self._up_kafka_process(state, started)
                self._up_postgres(state, started)
                self._up_replica(state, started)
                assert state.kafka_pid and state.kafka_port
                self.kafka.wait_ready(state.kafka_pid, state.kafka_port, KAFKA_START_TIMEOUT)
            except BaseException:
                self._stop_started(started, state)
                raise
            if started:
                self._log(f"kafka {self.kafka_version()}: 127.0.0.1:{state.kafka_port}")
                for protocol in state.kafka_security:
                    self._log(f"kafka {protocol}: 127.0.0.1:{state.kafka_secure_ports[protocol]}")
                self._log(f"postgresql: 127.0.0.1:{state.pg_port}{' (TLS)' if state.pg_tls else ''}")
                if state.replica:
                    self._log(f"postgresql replica (read only): {self._info(state).replica_url}")
            self._log("timescaledb: enabled" if state.timescaledb else "timescaledb: not available (plain PostgreSQL)")
            return self._info(state)

    def _apply_requests(self, state: StackState) -> None:
        """Record what this `up` asks for; stop a running service that must change."""
        wanted = self.kafka_security
        if wanted is not None and wanted != self._security(state):
            if self.kafka.is_kafka(state.kafka_pid):
                self._log(f"restarting Kafka: {self._security(state).describe()} -> {wanted.describe()}")
                procs.stop_group(state.kafka_pid or 0, timeout=30)
                state.kafka_pid = None
            state.kafka_security = list(wanted.protocols)
            state.sasl_mechanism, state.kafka_client_auth = wanted.mechanism, wanted.client_auth
        if self.pg_tls is not None and self.pg_tls != state.pg_tls:
            if self.postgres.pid() is not None:
                self._log(f"restarting PostgreSQL with TLS {'on' if self.pg_tls else 'off'}")
                self._stop_postgres_servers("fast")
            state.pg_tls = self.pg_tls
        if self.replica is not None and self.replica != state.replica:
            if not self.replica:
                self._remove_replica(state)
            state.replica = self.replica
        self._save(state)

    def _up_kafka_process(self, state: StackState, started: list[str]) -> None:
        if self.kafka.is_kafka(state.kafka_pid):
            return
        for pid in self.kafka.stray_pids():
            procs.stop_group(pid)
        taken = {p for p in (state.pg_port, state.replica_port) if p} if self.postgres.pid() else set()
        state.kafka_port = choose(
            self.kafka_port, state.kafka_port, "CANDLEFLOW_STACK_KAFKA_PORT", taken, wait=self._port_wait
        )
        taken.add(state.kafka_port)
        state.kafka_controller_port = choose(0, state.kafka_controller_port, "", taken)
        taken.add(state.kafka_controller_port)
        ports: dict[str, int] = {}
        for protocol in state.kafka_security:
            previous = state.kafka_secure_ports.get(protocol)
            again = previous if self._port_wait and previous else 0  # a restart keeps its ports
            ports[protocol] = choose(again, previous, "", taken, wait=self._port_wait)
            taken.add(ports[protocol])
        state.kafka_secure_ports = ports
        security = self._security(state)
        self._log(f"starting Kafka on 127.0.0.1:{state.kafka_port}, {security.describe()} (log: {self.kafka.log_path})")
        self.kafka.prepare(state.kafka_port, state.kafka_controller_port, security, ports, self._tls(state))
        state.kafka_pid = self.kafka.start()
        started.append("kafka")
        self._save(state)

    def _taken_by_kafka(self, state: StackState) -> set[int]:
        return {p for p in (state.kafka_port, state.kafka_controller_port, *state.kafka_secure_ports.values()) if p}

    def _up_postgres(self, state: StackState, started: list[str]) -> None:
        pid = self.postgres.pid()
        if pid is None:
            taken = self._taken_by_kafka(state) | ({state.replica_port} if state.replica_port else set())
            state.pg_port = choose(self.pg_port, state.pg_port, "CANDLEFLOW_STACK_PG_PORT", taken, wait=self._port_wait)
            tls = " with TLS" if state.pg_tls else ""
            self._log(f"starting PostgreSQL{tls} on 127.0.0.1:{state.pg_port} (log: {self.postgres.log_path})")
            self.postgres.prepare(state.pg_port, self._tls(state) if state.pg_tls else None)
            pid = self.postgres.start()
            started.append("postgres")
        state.pg_pid = pid
        self._save(state)
        assert state.pg_port
        self.postgres.wait_ready(state.pg_port, PG_START_TIMEOUT)
        state.timescaledb = self.postgres.ensure_database(state.pg_port)
        self._save(state)

    def _up_replica(self, state: StackState, started: list[str]) -> None:
        """A hot standby of the primary (base backup on first start), streaming from it."""
        if not state.replica or self.standby.pid() is not None:
            return
        assert state.pg_port
        taken = self._taken_by_kafka(state) | {state.pg_port}
        state.replica_port = choose(0, state.replica_port, "", taken, wait=self._port_wait)
        if not (self.standby.data / "PG_VERSION").is_file():
            self._log(f"copying PostgreSQL 127.0.0.1:{state.pg_port} into a replica (pg_basebackup)")
            aio.run(lambda: drop_slot(state.pg_port or 0))  # a replica removed by hand left its slot
        self._log(f"starting the PostgreSQL replica on 127.0.0.1:{state.replica_port} (log: {self.standby.log_path})")
        self.standby.prepare(state.replica_port, self._tls(state) if state.pg_tls else None, primary_port=state.pg_port)
        self.standby.start()
        started.append("replica")
        self._save(state)
        self.standby.wait_ready(state.replica_port, PG_START_TIMEOUT)

    def _remove_replica(self, state: StackState) -> None:
        """Stop the replica, delete its copy, and free the WAL the primary kept for it."""
        self.standby.stop("fast")
        if self.standby.home.exists():
            location = self.standby.location
            self._log(f"removing the PostgreSQL replica in {location}")
            if self.standby.home.is_symlink():
                self.standby.home.unlink()
            shutil.rmtree(location, ignore_errors=True)
        if self.postgres.pid() is not None and state.pg_port:
            aio.run(lambda: drop_slot(state.pg_port or 0))
        state.replica_port = None

    def _stop_postgres_servers(self, mode: str) -> None:
        """The replica first (it would only keep calling a stopped primary), then the primary."""
        self.standby.stop(mode)
        self.postgres.stop(mode)

    def _stop_started(self, started: list[str], state: StackState) -> None:
        """Undo a failed `up`: stop what this call started, keep what already ran."""
        if "kafka" in started and state.kafka_pid:
            procs.stop_group(state.kafka_pid, timeout=15)
            state.kafka_pid = None
        if "replica" in started:
            self.standby.stop("immediate")
        if "postgres" in started:
            self.postgres.stop("immediate")
            state.pg_pid = None
        self._save(state)

    def down(self) -> None:
        """Stop every service; returns only when no process of this stack is left."""
        with self._lock():
            state = self._state()
            kafka_pids = [state.kafka_pid] if state.kafka_pid and self.kafka.is_kafka(state.kafka_pid) else []
            for pid in sorted({*kafka_pids, *self.kafka.stray_pids()}):
                self._log(f"stopping Kafka (pid {pid})")
                procs.stop_group(pid, timeout=30)
            for name, server in (("the PostgreSQL replica", self.standby), ("PostgreSQL", self.postgres)):
                server_pid = server.pid()
                if server_pid is not None:
                    self._log(f"stopping {name} (pid {server_pid})")
                    server.stop("fast")
            state.kafka_pid = None
            state.pg_pid = None
            if self.stack_dir.is_dir():
                self._save(state)
            left = self.processes()
            if left:
                raise StackError(f"processes {left} of the stack in {self.stack_dir} survived")

    def processes(self) -> list[int]:
        """Pids of every service of this stack that runs (the broker, both PostgreSQL servers)."""
        found = {*self.kafka.stray_pids(), self.postgres.pid(), self.standby.pid()}
        return sorted(pid for pid in found if pid)

    def status(self) -> str:
        """What runs where, one line per service."""
        state = self._state()
        lines = [f"stack dir: {self.stack_dir}"]
        if self.kafka.is_kafka(state.kafka_pid):
            lines.append(
                f"kafka {self.kafka_version()}: running, pid {state.kafka_pid}, "
                f"127.0.0.1:{state.kafka_port} (log: {self.kafka.log_path})"
            )
            security = self._security(state)
            for protocol in security.protocols:
                lines.append(f"kafka {protocol}: 127.0.0.1:{state.kafka_secure_ports.get(protocol)}")
            if security.secured:
                lines.append(f"kafka security: {security.describe()}")
        else:
            lines.append("kafka: stopped")
        pg_pid = self.postgres.pid()
        if pg_pid is not None:
            lines.append(
                f"postgresql: running, pid {pg_pid}, 127.0.0.1:{state.pg_port}"
                f"{', TLS' if state.pg_tls else ''} (log: {self.postgres.log_path})"
            )
            lines.append(
                "timescaledb: enabled" if state.timescaledb else "timescaledb: not available (plain PostgreSQL)"
            )
        else:
            lines.append("postgresql: stopped")
        if state.replica:
            replica_pid = self.standby.pid()
            if replica_pid is not None and pg_pid is not None:
                try:
                    lag = self.replica_lag().describe()
                except (OSError, TimeoutError, StackError) as exc:
                    lag = f"lag unknown ({exc})"
                lines.append(f"replica: running, pid {replica_pid}, 127.0.0.1:{state.replica_port}, {lag}")
            else:
                lines.append("replica: stopped" if replica_pid is None else f"replica: running, pid {replica_pid}")
        return "\n".join(lines)

    def running(self) -> StackInfo | None:
        """Where the stack answers, or None unless every service it is configured with runs."""
        state = self._state()
        if not (self.kafka.is_kafka(state.kafka_pid) and self.postgres.pid() is not None):
            return None
        if state.replica and self.standby.pid() is None:
            return None
        return self._info(state)

    def replica_lag(self) -> ReplicaLag:
        """How far the replica trails the primary (both must run)."""
        state = self._state()
        if not (state.replica and state.replica_port and state.pg_port):
            raise StackError(f"the stack in {self.stack_dir} has no replica: bring it up with one (--pg-replica)")
        primary, standby = state.pg_port, state.replica_port
        return aio.run(lambda: replica_lag(primary, standby))

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

    def stop_replica(self, mode: str = "fast") -> None:
        """Stop the replica alone (reads that go there must notice); `up` starts it again."""
        with self._lock():
            self.standby.stop(mode)
