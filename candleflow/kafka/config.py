"""`KafkaConfig`: how every Kafka client of candleflow reaches the brokers, built once.

One frozen value from the settings holds the bootstrap servers, the client id prefix,
the timeouts (all in seconds, here and nowhere else) and the security: PLAINTEXT, SSL
(a CA file, an optional client certificate and key, hostname verification) or SASL
(PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) over plain TCP or TLS. `client_options` renders it
as the keyword arguments every aiokafka client takes; `faust_credentials` as the
`broker_credentials` of the `faust.App`. The clients themselves are built in
`candleflow.kafka.clients` only.

The TLS context is built when the config is, so a CA file that is not PEM or a wrong
key password fails at start, with a message naming the setting, instead of at the first
connection.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiokafka.helpers import create_ssl_context

from candleflow.core.settings import Settings, variable
from candleflow.domain.exceptions import ConfigError

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class KafkaConfig:
    """See the module docstring. Only `bootstrap` is required (a PLAINTEXT cluster)."""

    bootstrap: str
    client_id: str = "candleflow"
    security_protocol: str = "PLAINTEXT"
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_key_password: str | None = field(default=None, repr=False)
    ssl_check_hostname: bool = True
    sasl_mechanism: str = "PLAIN"
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    #: How long one request may wait for a broker's answer.
    request_timeout_s: float = 40.0
    #: A group member silent this long is taken out of the group (its partitions move).
    session_timeout_s: float = 10.0
    #: How often a group member tells the coordinator it is alive (well below the session timeout).
    heartbeat_interval_s: float = 2.0
    #: Replicas of each topic candleflow creates.
    replication_factor: int = 1
    ssl_context: ssl.SSLContext | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.security_protocol not in PROTOCOLS:
            raise ConfigError(f"Kafka security protocol {self.security_protocol!r}: use one of {', '.join(PROTOCOLS)}")
        if self.uses_sasl and self.sasl_mechanism not in MECHANISMS:
            raise ConfigError(f"SASL mechanism {self.sasl_mechanism!r}: use one of {', '.join(MECHANISMS)}")
        if self.uses_sasl and not (self.sasl_username and self.sasl_password):
            raise ConfigError(f"{self.security_protocol} needs a SASL user name and password")
        if self.uses_tls:
            object.__setattr__(self, "ssl_context", self._tls_context())

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaConfig:
        return cls(
            bootstrap=settings.kafka_bootstrap,
            client_id=settings.kafka_client_id,
            security_protocol=settings.kafka_security_protocol,
            ssl_cafile=settings.kafka_ssl_cafile or None,
            ssl_certfile=settings.kafka_ssl_certfile or None,
            ssl_keyfile=settings.kafka_ssl_keyfile or None,
            ssl_key_password=settings.kafka_ssl_key_password or None,
            ssl_check_hostname=settings.kafka_ssl_check_hostname,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_username=settings.kafka_sasl_username or None,
            sasl_password=settings.kafka_sasl_password or None,
            replication_factor=settings.kafka_replication_factor,
        )

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def client_options(self, role: str, *, request_timeout_s: float | None = None) -> dict[str, Any]:
        """The connection keyword arguments of an aiokafka client (producer, consumer,
        admin or bare client) whose client id is `{client_id}-{role}`."""
        timeout = self.request_timeout_s if request_timeout_s is None else request_timeout_s
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "client_id": f"{self.client_id}-{role}",
            "request_timeout_ms": _ms(timeout),
            "security_protocol": self.security_protocol,
        }
        if self.ssl_context is not None:
            options["ssl_context"] = self.ssl_context
        if self.uses_sasl:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password
        return options

    def group_options(self) -> dict[str, Any]:
        """The group-membership timeouts of a consumer in a group."""
        return {
            "session_timeout_ms": _ms(self.session_timeout_s),
            "heartbeat_interval_ms": _ms(self.heartbeat_interval_s),
        }

    def faust_credentials(self) -> CredentialsT | None:
        """The `broker_credentials` of the `faust.App` (None: PLAINTEXT)."""
        from faust.auth import SASLCredentials, SSLCredentials

        if self.uses_sasl:
            return SASLCredentials(
                username=self.sasl_username,
                password=self.sasl_password,
                ssl_context=self.ssl_context,
                mechanism=self.sasl_mechanism,
            )
        if self.ssl_context is not None:
            return SSLCredentials(self.ssl_context)
        return None

    def _tls_context(self) -> ssl.SSLContext:
        """The client's TLS context; a file that cannot be loaded is a `ConfigError`
        naming its setting (an encrypted key without its password fails too, instead of
        OpenSSL asking for it on a terminal nobody watches)."""
        try:
            context: ssl.SSLContext = create_ssl_context(cafile=self.ssl_cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"{variable('kafka_ssl_cafile')}={self.ssl_cafile}: cannot load it as PEM CA certificates ({exc})"
            ) from None
        if self.ssl_certfile is not None:
            try:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile, self.ssl_key_password or "")
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"{variable('kafka_ssl_certfile')}={self.ssl_certfile}"
                    + (f" with {variable('kafka_ssl_keyfile')}={self.ssl_keyfile}" if self.ssl_keyfile else "")
                    + f": cannot load the client certificate and key ({exc}); check the files and "
                    + f"{variable('kafka_ssl_key_password')}"
                ) from None
        context.check_hostname = self.ssl_check_hostname
        return context


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
