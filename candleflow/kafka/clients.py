"""The only place candleflow builds aiokafka clients, each from one `KafkaConfig`.

* `producer`: acknowledged by all in-sync replicas, idempotent (no duplicate on retry);
* `group_consumer`: a member of a consumer group, committing offsets by hand only;
* `assigned_reader`: a consumer outside any group, partitions assigned and positioned
  by the caller, nothing committed;
* `admin`: topic creation and description;
* `metadata_client`: a bare client for one metadata round trip (the health probe);
* `broker_connection`: one authenticated connection to one broker, whose failure is
  the broker's own answer (the start-up check, `candleflow.kafka.preflight`).

`role` names the client in its client id (`{client_id}-{role}`), so a broker's logs and
quotas tell the engine, the SSE hub and a source apart. Keyword `options` are the
client's own tuning (fetch sizes, linger, batch size), never connection settings: those
come from the config alone (a probe may shorten its `request_timeout_s`).
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient
from aiokafka.conn import AIOKafkaConnection, create_conn

from candleflow.kafka.config import KafkaConfig

#: Keyword arguments a caller may not pass as `options`: they belong to the config.
_CONNECTION = frozenset(
    {
        "bootstrap_servers",
        "client_id",
        "request_timeout_ms",
        "security_protocol",
        "ssl_context",
        "sasl_mechanism",
        "sasl_plain_username",
        "sasl_plain_password",
        "group_id",
        "enable_auto_commit",
    }
)


def _tuning(options: dict[str, Any]) -> dict[str, Any]:
    clash = sorted(_CONNECTION & set(options))
    if clash:
        raise TypeError(f"{', '.join(clash)} come from the KafkaConfig, not from a client's options")
    return options


def producer(
    config: KafkaConfig, role: str, *, request_timeout_s: float | None = None, **options: Any
) -> AIOKafkaProducer:
    """An idempotent producer acknowledged by all in-sync replicas (not started)."""
    return AIOKafkaProducer(
        **config.client_options(role, request_timeout_s=request_timeout_s),
        **{"acks": "all", "enable_idempotence": True, **_tuning(options)},
    )


def group_consumer(
    config: KafkaConfig, role: str, group_id: str, *, request_timeout_s: float | None = None, **options: Any
) -> AIOKafkaConsumer:
    """A consumer in `group_id` with the config's session timeouts; offsets are committed
    by the caller, never automatically (not started, not subscribed)."""
    return AIOKafkaConsumer(
        **config.client_options(role, request_timeout_s=request_timeout_s),
        **config.group_options(),
        group_id=group_id,
        enable_auto_commit=False,
        **_tuning(options),
    )


def assigned_reader(
    config: KafkaConfig, role: str, *, request_timeout_s: float | None = None, **options: Any
) -> AIOKafkaConsumer:
    """A consumer outside any group: the caller assigns and positions its partitions
    (not started)."""
    return AIOKafkaConsumer(
        **config.client_options(role, request_timeout_s=request_timeout_s),
        group_id=None,
        enable_auto_commit=False,
        **_tuning(options),
    )


def admin(config: KafkaConfig, role: str = "admin", *, request_timeout_s: float | None = None) -> AIOKafkaAdminClient:
    """An admin client (not started)."""
    return AIOKafkaAdminClient(**config.client_options(role, request_timeout_s=request_timeout_s))


def metadata_client(config: KafkaConfig, role: str, *, request_timeout_s: float) -> AIOKafkaClient:
    """A bare client for a metadata round trip (`await client.bootstrap()`); not started."""
    return AIOKafkaClient(**config.client_options(role, request_timeout_s=request_timeout_s))


async def broker_connection(
    config: KafkaConfig, role: str, host: str, port: int, *, request_timeout_s: float
) -> AIOKafkaConnection:
    """One connection to `host:port`, through TLS and the SASL login the config asks for.
    A client's bootstrap logs why a broker refused it and says only "unable to
    bootstrap"; this raises the refusal itself (`ssl.SSLCertVerificationError`,
    `aiokafka.errors.SaslAuthenticationFailed`, ...)."""
    options = config.client_options(role, request_timeout_s=request_timeout_s)
    sasl = {
        "sasl_mechanism": options.get("sasl_mechanism", "PLAIN"),
        "sasl_plain_username": options.get("sasl_plain_username"),
        "sasl_plain_password": options.get("sasl_plain_password"),
    }
    return await create_conn(
        host,
        port,
        client_id=options["client_id"],
        request_timeout_ms=options["request_timeout_ms"],
        ssl_context=options.get("ssl_context"),
        security_protocol=options["security_protocol"],
        **sasl,
    )
