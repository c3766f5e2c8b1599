"""Does a broker accept this client? The start-up check of every long-running process.

A Kafka client that a broker refuses does not fail: it logs the refusal and tries again,
forever. Before a worker, a web process or a command builds its clients, `refusal`
opens one connection to a bootstrap broker the way every client will (TLS, SASL) and
sends one metadata request, and `check` turns the broker's answer into a
`KafkaRefused` that says what to fix: a wrong user or password, a mechanism the
broker does not enable, a broker certificate the configured CA does not sign (or that
names another host), a client certificate it rejects, or a protocol that is not the
listener's. A broker that cannot be reached at all is not a refusal: the process
starts and waits for it as it always has.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass

from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed, UnsupportedSaslMechanismError
from aiokafka.protocol.metadata import MetadataRequest

from candleflow.core.settings import variable
from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.exceptions import KafkaRefused

CHECK_TIMEOUT_S = 10.0
#: OpenSSL's verify code for a certificate that names another host.
HOSTNAME_MISMATCH = 62

PROTOCOL = variable("kafka_security_protocol")
CAFILE = variable("kafka_ssl_cafile")


@dataclass(frozen=True)
class Answer:
    """What the first bootstrap broker that answered said: `refused` (what to fix) or
    None; `unreachable` lists the brokers that did not answer at all."""

    refused: str | None
    unreachable: tuple[str, ...] = ()


async def check(config: KafkaConfig, timeout_s: float = CHECK_TIMEOUT_S) -> Answer:
    """`KafkaRefused` when a broker refuses this client (see the module docstring); else
    the answer (which brokers could not be reached)."""
    answer = await probe(config, timeout_s)
    if answer.refused is not None:
        raise KafkaRefused(answer.refused)
    return answer


async def probe(config: KafkaConfig, timeout_s: float = CHECK_TIMEOUT_S) -> Answer:
    """Try the bootstrap brokers in turn until one answers (see `check`)."""
    unreachable = []
    for server in config.bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        verdict = await refusal(config, host, int(port), timeout_s)
        if isinstance(verdict, Unreachable):
            unreachable.append(f"{server.strip()} ({verdict.why})")
            continue
        return Answer(verdict, tuple(unreachable))
    return Answer(None, tuple(unreachable))


@dataclass(frozen=True)
class Unreachable:
    """A broker that did not answer (down, a wrong address, a timeout): not a refusal."""

    why: str


async def refusal(config: KafkaConfig, host: str, port: int, timeout_s: float) -> str | Unreachable | None:
    """None when the broker at `host:port` takes this client's connection and a metadata
    request; else why it refused, in words, or `Unreachable`."""
    where = f"Kafka at {host}:{port}"
    try:
        async with asyncio.timeout(timeout_s):
            connection = await clients.broker_connection(config, "preflight", host, port, request_timeout_s=timeout_s)
            try:
                await connection.send(MetadataRequest([]))
            finally:
                with contextlib.suppress(Exception):
                    connection.close()
    except SaslAuthenticationFailed as exc:
        return (
            f"{where} refused the login of user {config.sasl_username!r} with {config.sasl_mechanism}: {exc}; "
            f"check {variable('kafka_sasl_username')} and {variable('kafka_sasl_password')}"
        )
    except UnsupportedSaslMechanismError as exc:
        return (
            f"{where} does not accept the SASL mechanism {config.sasl_mechanism} ({exc}); "
            f"set {variable('kafka_sasl_mechanism')} to one the broker enables"
        )
    except ssl.SSLCertVerificationError as exc:
        return _untrusted(config, where, exc)
    except KafkaConnectionError as exc:
        return _closed(config, where, exc)
    except ssl.SSLError as exc:
        return f"{where} did not speak TLS ({exc.reason or exc}): is it a plaintext listener? check {PROTOCOL}"
    except ConnectionResetError:
        if config.uses_tls:
            return f"{where} dropped the TLS handshake: is it a plaintext listener? check {PROTOCOL}"
        return Unreachable("the connection was reset")
    except (OSError, TimeoutError) as exc:
        return Unreachable(f"{type(exc).__name__}: {exc}")
    return None


def _untrusted(config: KafkaConfig, where: str, exc: ssl.SSLCertVerificationError) -> str:
    if exc.verify_code == HOSTNAME_MISMATCH:
        return (
            f"{where} presented a certificate for another host ({exc.verify_message}): connect by a name the "
            f"certificate holds, or turn {variable('kafka_ssl_check_hostname')} off for a test setup"
        )
    trusted = f"the CA of {CAFILE}={config.ssl_cafile}" if config.ssl_cafile else f"the system's CAs ({CAFILE} unset)"
    return (
        f"{where} presented a certificate not signed by {trusted} ({exc.verify_message}); "
        f"set {CAFILE} to the CA that signs the brokers' certificates"
    )


def _closed(config: KafkaConfig, where: str, exc: KafkaConnectionError) -> str | Unreachable:
    cause = exc.__cause__
    if isinstance(cause, ssl.SSLError):
        return (
            f"{where} ended the TLS handshake ({cause.reason or cause}): it wants a client certificate it "
            f"trusts; check {variable('kafka_ssl_certfile')} and {variable('kafka_ssl_keyfile')}"
        )
    if not config.uses_tls:
        return (
            f"{where} closed the connection at once ({exc}): is it a TLS listener? "
            f"check {PROTOCOL}={config.security_protocol} (a TLS listener wants SSL or SASL_SSL)"
        )
    return Unreachable(str(exc))
