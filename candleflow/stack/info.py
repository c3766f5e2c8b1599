"""`StackInfo`: where a running stack answers, and the variables that point candleflow at it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from candleflow.stack.kafka_security import PLAINTEXT, KafkaSecurity, client_env, password
from candleflow.stack.postgres import url
from candleflow.stack.tls import TlsFiles


def tls_files(stack_dir: Path) -> TlsFiles:
    """Where a stack keeps its CA and certificates."""
    return TlsFiles(stack_dir / "tls")


@dataclass(frozen=True)
class StackInfo:
    """Where a running stack answers.

    `kafka_bootstrap` is always the broker's PLAINTEXT listener (the tests' and the
    launcher's own admin traffic); `kafka_env()` is what a client of a secured listener
    sets. With `pg_tls`, the database URLs ask for `sslmode=verify-full` against the
    stack's CA.
    """

    stack_dir: Path
    kafka_port: int
    pg_port: int
    timescaledb: bool
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity)
    kafka_secure_ports: tuple[tuple[str, int], ...] = ()
    pg_tls: bool = False
    replica_port: int | None = None

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def tls(self) -> TlsFiles:
        return tls_files(self.stack_dir)

    @property
    def kafka_password(self) -> str:
        """The SASL user's password (`kafka_security.USERNAME`)."""
        return password(self.stack_dir / "kafka")

    def kafka_port_of(self, protocol: str) -> int:
        """The port of the listener speaking `protocol` (PLAINTEXT, SSL, SASL_SSL, SASL_PLAINTEXT)."""
        ports = {PLAINTEXT: self.kafka_port, **dict(self.kafka_secure_ports)}
        if protocol not in ports:
            raise KeyError(f"the stack's broker has no {protocol} listener (it has {', '.join(ports)})")
        return ports[protocol]

    def kafka_env(self, protocol: str | None = None, mechanism: str | None = None) -> dict[str, str]:
        """The CANDLEFLOW_KAFKA_* variables of a client of one listener: by default the
        first secured one asked for (with the stack's SASL mechanism), else PLAINTEXT."""
        security = self.kafka_security
        protocol = protocol or (security.protocols[0] if security.secured else PLAINTEXT)
        port = self.kafka_port_of(protocol)
        if protocol == PLAINTEXT:
            return {"CANDLEFLOW_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}"}
        return client_env(
            protocol,
            port,
            self.tls,
            self.kafka_password if protocol.startswith("SASL") else "",
            mechanism or security.mechanism,
            client_cert=protocol == "SSL" and security.client_auth != "none",
        )

    def _url(self, port: int, database: str) -> str:
        base = url(port, database)
        if not self.pg_tls:
            return base
        return f"{base}?sslmode=verify-full&sslrootcert={quote(str(self.tls.ca), safe='/')}"

    def database_url_of(self, database: str) -> str:
        """The URL of another database of the stack's primary (same TLS parameters)."""
        return self._url(self.pg_port, database)

    @property
    def database_url(self) -> str:
        return self.database_url_of("candleflow")

    @property
    def replica_url(self) -> str | None:
        """The replica's URL (read only), or None without a replica."""
        return self.replica_url_of("candleflow")

    def replica_url_of(self, database: str) -> str | None:
        """The replica's URL of another database (None without a replica)."""
        return self._url(self.replica_port, database) if self.replica_port else None

    def env(self) -> dict[str, str]:
        """The variables that point every other candleflow command at this stack."""
        return {
            **self.kafka_env(),
            "CANDLEFLOW_DATABASE_URL": self.database_url,
            "CANDLEFLOW_STACK_DIR": str(self.stack_dir),
        }
