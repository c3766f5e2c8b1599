"""`<stack_dir>/stack.json`: ports and pids of a stack, so any later process can find it."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class StackState:
    kafka_port: int | None = None
    kafka_controller_port: int | None = None
    kafka_pid: int | None = None
    pg_port: int | None = None
    pg_pid: int | None = None
    timescaledb: bool = False
    #: Secured listeners (protocol names, first = the one exported) and their ports.
    kafka_security: list[str] = field(default_factory=list)
    kafka_secure_ports: dict[str, int] = field(default_factory=dict)
    sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_client_auth: str = "none"
    pg_tls: bool = False
    replica: bool = False
    replica_port: int | None = None

    @classmethod
    def load(cls, stack_dir: Path) -> StackState:
        path = stack_dir / "stack.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, stack_dir: Path) -> None:
        """Write atomically: a reader never sees half a file."""
        path = stack_dir / "stack.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on `path` (two `stack up` never race)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
