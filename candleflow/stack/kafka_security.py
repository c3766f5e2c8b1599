"""Secured listeners of the local broker: SSL, SASL_SSL and SASL_PLAINTEXT.

The PLAINTEXT listener always stays (the launcher's readiness check, the controller and
the broker's own traffic use it, on 127.0.0.1 only); each requested protocol adds one
listener of that name on a port of its own. SASL listeners accept PLAIN (the user in
the listener's JAAS configuration) and SCRAM-SHA-256/512 (credentials written into the
cluster metadata when the storage is formatted), all for one user whose password the
launcher generates into the stack directory. `client_env` says how a candleflow client
reaches one listener, in the `CANDLEFLOW_KAFKA_*` variables it reads.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from candleflow.stack.exceptions import StackError
from candleflow.stack.tls import TlsFiles

PLAINTEXT = "PLAINTEXT"
PROTOCOLS = ("SSL", "SASL_SSL", "SASL_PLAINTEXT")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
SCRAM = ("SCRAM-SHA-256", "SCRAM-SHA-512")
CLIENT_AUTH = ("none", "requested", "required")
USERNAME = "candleflow"
#: Written beside the formatted storage once its metadata holds the SCRAM credentials.
SCRAM_MARKER = "scram-users"

#: The client settings (core/settings.py) the exports fill in.
PROTOCOL_VAR = "CANDLEFLOW_KAFKA_SECURITY_PROTOCOL"
CA_VAR = "CANDLEFLOW_KAFKA_SSL_CAFILE"
CERT_VAR = "CANDLEFLOW_KAFKA_SSL_CERTFILE"
KEY_VAR = "CANDLEFLOW_KAFKA_SSL_KEYFILE"
CHECK_HOSTNAME_VAR = "CANDLEFLOW_KAFKA_SSL_CHECK_HOSTNAME"
MECHANISM_VAR = "CANDLEFLOW_KAFKA_SASL_MECHANISM"
USERNAME_VAR = "CANDLEFLOW_KAFKA_SASL_USERNAME"
PASSWORD_VAR = "CANDLEFLOW_KAFKA_SASL_PASSWORD"


@dataclass(frozen=True)
class KafkaSecurity:
    """Which secured listeners the broker opens.

    `protocols` in the order asked (empty: plaintext only); the first is the one the
    stack's exports point at, with SASL `mechanism`. `client_auth` is the SSL
    listener's demand for client certificates.
    """

    protocols: tuple[str, ...] = ()
    mechanism: str = "SCRAM-SHA-512"
    client_auth: str = "none"

    def __post_init__(self) -> None:
        unknown = [p for p in self.protocols if p not in PROTOCOLS]
        if unknown or len(set(self.protocols)) != len(self.protocols):
            raise StackError(
                f"Kafka security {','.join(self.protocols)} is not valid: "
                f"choose from {', '.join(p.lower() for p in PROTOCOLS)} (each once), or plaintext"
            )
        if self.mechanism not in MECHANISMS:
            raise StackError(f"SASL mechanism {self.mechanism} is not valid: choose one of {', '.join(MECHANISMS)}")
        if self.client_auth not in CLIENT_AUTH:
            raise StackError(f"SSL client auth {self.client_auth} is not valid: choose one of {', '.join(CLIENT_AUTH)}")

    @classmethod
    def parse(cls, protocols: str, mechanism: str = "SCRAM-SHA-512", client_auth: str = "none") -> KafkaSecurity:
        """From the command line's spelling: `sasl_ssl`, `ssl,sasl_plaintext`, `plaintext`."""
        names = [p.strip().upper() for p in protocols.split(",") if p.strip()]
        names = [p for p in names if p != PLAINTEXT]
        return cls(tuple(names), mechanism.strip().upper(), client_auth.strip().lower())

    @property
    def secured(self) -> bool:
        return bool(self.protocols)

    @property
    def tls(self) -> bool:
        return any(p.endswith("SSL") for p in self.protocols)

    @property
    def sasl(self) -> bool:
        return any(p.startswith("SASL") for p in self.protocols)

    def describe(self) -> str:
        if not self.secured:
            return "plaintext"
        parts = [p.lower() for p in self.protocols]
        if self.sasl:
            parts.append(f"mechanism {self.mechanism}")
        if "SSL" in self.protocols and self.client_auth != "none":
            parts.append(f"client certificates {self.client_auth}")
        return ", ".join(parts)


def password(home: Path) -> str:
    """The SASL user's password, generated into `home` on first use (owner-only file)."""
    path = home / "sasl-password"
    if not path.is_file():
        home.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(24) + "\n")
    return path.read_text().strip()


def scram_format_args(secret: str) -> list[str]:
    """`kafka-storage format` arguments that write the user's SCRAM credentials."""
    args = []
    for mechanism in SCRAM:
        args += ["--add-scram", f"{mechanism}=[name={USERNAME},password={secret}]"]
    return args


def keystore(home: Path, tls: TlsFiles) -> Path:
    """The broker's PEM key store: its key, then its certificate and the CA's."""
    path = home / "keystore.pem"
    path.touch(mode=0o600)
    path.write_text(tls.server_key.read_text() + tls.server_cert.read_text() + tls.ca.read_text())
    return path


def listener_properties(security: KafkaSecurity, home: Path, tls: TlsFiles | None, secret: str) -> dict[str, str]:
    """server.properties entries that configure the secured listeners (not their addresses)."""
    if not security.secured:
        return {}
    props: dict[str, str] = {}
    if security.tls:
        assert tls is not None
        props |= {
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(keystore(home, tls)),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(tls.ca),
        }
    if "SSL" in security.protocols:
        props["listener.name.ssl.ssl.client.auth"] = security.client_auth
    if security.sasl:
        props["sasl.enabled.mechanisms"] = ",".join(MECHANISMS)
    for protocol in security.protocols:
        if not protocol.startswith("SASL"):
            continue
        prefix = f"listener.name.{protocol.lower()}"
        props[f"{prefix}.plain.sasl.jaas.config"] = (
            f'org.apache.kafka.common.security.plain.PlainLoginModule required user_{USERNAME}="{secret}";'
        )
        for mechanism in SCRAM:
            props[f"{prefix}.{mechanism.lower()}.sasl.jaas.config"] = (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            )
    return props


def client_env(
    protocol: str,
    port: int,
    tls: TlsFiles | None,
    secret: str,
    mechanism: str = "SCRAM-SHA-512",
    client_cert: bool = False,
) -> dict[str, str]:
    """The CANDLEFLOW_KAFKA_* variables of a client of the `protocol` listener on `port`."""
    env = {"CANDLEFLOW_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}", PROTOCOL_VAR: protocol}
    if protocol.endswith("SSL"):
        assert tls is not None
        env |= {CA_VAR: str(tls.ca), CHECK_HOSTNAME_VAR: "true"}
        if client_cert:
            env |= {CERT_VAR: str(tls.client_cert), KEY_VAR: str(tls.client_key)}
    if protocol.startswith("SASL"):
        env |= {MECHANISM_VAR: mechanism, USERNAME_VAR: USERNAME, PASSWORD_VAR: secret}
    return env
