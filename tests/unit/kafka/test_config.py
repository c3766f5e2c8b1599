"""`KafkaConfig`: every security combination renders the client arguments aiokafka and
Faust expect, and every inconsistent setting is refused with a message saying what to fix.
(A real TLS/SASL broker is exercised by the stack's secured-listener tests.)"""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient
from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import AuthProtocol

from candleflow.core.settings import Settings
from candleflow.domain.exceptions import ConfigError
from candleflow.kafka import clients
from candleflow.kafka.config import KafkaConfig

BOOTSTRAP = "127.0.0.1:9"


@dataclass(frozen=True)
class Pem:
    ca: Path
    cert: Path
    key: Path
    encrypted_key: Path
    not_pem: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> Pem:
    """A self-signed CA and client certificate, with a plain and an encrypted key (EC: fast)."""
    root = tmp_path_factory.mktemp("pem")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]
    _openssl("req", "-x509", *ec, "-keyout", str(root / "ca.key"), "-out", str(root / "ca.pem"), "-subj", "/CN=ca")
    _openssl("req", "-x509", *ec, "-keyout", str(root / "c.key"), "-out", str(root / "c.pem"), "-subj", "/CN=client")
    _openssl("pkey", "-in", str(root / "c.key"), "-aes256", "-passout", "pass:s3cret", "-out", str(root / "e.key"))
    (root / "junk.pem").write_text("not a certificate\n")
    return Pem(root / "ca.pem", root / "c.pem", root / "c.key", root / "e.key", root / "junk.pem")


def settings(**variables: str) -> Settings:
    return Settings.from_env({f"CANDLEFLOW_KAFKA_{k.upper()}": v for k, v in variables.items()})


def config(**variables: str) -> KafkaConfig:
    return KafkaConfig.from_settings(settings(bootstrap=BOOTSTRAP, **variables))


def test_plaintext_is_the_default() -> None:
    kafka = config()
    assert kafka.client_options("engine") == {
        "bootstrap_servers": BOOTSTRAP,
        "client_id": "candleflow-engine",
        "request_timeout_ms": 40_000,
        "security_protocol": "PLAINTEXT",
    }
    assert kafka.client_options("healthz", request_timeout_s=3)["request_timeout_ms"] == 3000
    assert kafka.group_options() == {"session_timeout_ms": 10_000, "heartbeat_interval_ms": 2_000}
    assert kafka.ssl_context is None
    assert kafka.faust_credentials() is None
    assert config(client_id="desk-7").client_options("sse-hub")["client_id"] == "desk-7-sse-hub"


def test_ssl_with_a_ca_verifies_the_broker_and_its_name(pem: Pem) -> None:
    kafka = config(security_protocol="ssl", ssl_cafile=str(pem.ca))
    options = kafka.client_options("engine")
    assert options["security_protocol"] == "SSL"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert "sasl_mechanism" not in options
    credentials = kafka.faust_credentials()
    assert isinstance(credentials, SSLCredentials)
    assert credentials.protocol == AuthProtocol.SSL and credentials.context is context


def test_ssl_without_hostname_check_still_verifies_the_chain(pem: Pem) -> None:
    context = config(security_protocol="SSL", ssl_cafile=str(pem.ca), ssl_check_hostname="false").ssl_context
    assert context is not None
    assert not context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED


def test_ssl_with_a_client_certificate(pem: Pem) -> None:
    plain = config(security_protocol="SSL", ssl_certfile=str(pem.cert), ssl_keyfile=str(pem.key))
    assert plain.ssl_context is not None
    encrypted = config(
        security_protocol="SSL",
        ssl_certfile=str(pem.cert),
        ssl_keyfile=str(pem.encrypted_key),
        ssl_key_password="s3cret",
    )
    assert encrypted.ssl_context is not None


def test_a_wrong_key_password_is_refused_at_start(pem: Pem) -> None:
    with pytest.raises(ConfigError, match="CANDLEFLOW_KAFKA_SSL_KEY_PASSWORD"):
        config(security_protocol="SSL", ssl_certfile=str(pem.cert), ssl_keyfile=str(pem.encrypted_key))
    with pytest.raises(ConfigError, match="cannot load the client certificate"):
        config(
            security_protocol="SSL",
            ssl_certfile=str(pem.cert),
            ssl_keyfile=str(pem.encrypted_key),
            ssl_key_password="wrong",
        )


def test_a_ca_file_that_is_not_pem_is_refused_at_start(pem: Pem) -> None:
    with pytest.raises(ConfigError, match=r"CANDLEFLOW_KAFKA_SSL_CAFILE=.*junk.pem: cannot load it as PEM"):
        config(security_protocol="SSL", ssl_cafile=str(pem.not_pem))


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "scram-sha-512"])
def test_sasl_plaintext(mechanism: str) -> None:
    kafka = config(
        security_protocol="SASL_PLAINTEXT", sasl_mechanism=mechanism, sasl_username="ann", sasl_password="pw"
    )
    options = kafka.client_options("engine")
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == mechanism.upper()
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("ann", "pw")
    assert "ssl_context" not in options
    credentials = kafka.faust_credentials()
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol == AuthProtocol.SASL_PLAINTEXT
    assert credentials.mechanism.value == mechanism.upper()
    assert (credentials.username, credentials.password, credentials.ssl_context) == ("ann", "pw", None)


def test_sasl_ssl(pem: Pem) -> None:
    kafka = config(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="ann",
        sasl_password="pw",
        ssl_cafile=str(pem.ca),
    )
    options = kafka.client_options("engine")
    assert options["security_protocol"] == "SASL_SSL"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    credentials = kafka.faust_credentials()
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol == AuthProtocol.SASL_SSL and credentials.ssl_context is kafka.ssl_context


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"security_protocol": "SASL_SSL"}, "needs CANDLEFLOW_KAFKA_SASL_PASSWORD and CANDLEFLOW_KAFKA_SASL_USERNAME"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_username": "ann"}, "needs CANDLEFLOW_KAFKA_SASL_PASSWORD:"),
        ({"sasl_username": "ann", "sasl_password": "pw"}, "PLAINTEXT does not log in: choose SASL_PLAINTEXT"),
        ({"security_protocol": "SSL", "ssl_cafile": "/nowhere/ca.pem"}, "ca.pem: no such file"),
        (
            {"security_protocol": "SASL_PLAINTEXT", "sasl_username": "a", "sasl_password": "p", "ssl_cafile": "x"},
            "uses no TLS",
        ),
        ({"security_protocol": "SSL", "ssl_keyfile": "CERT"}, "KEYFILE needs CANDLEFLOW_KAFKA_SSL_CERTFILE"),
        ({"security_protocol": "SSL", "ssl_key_password": "pw"}, "without a client certificate: unset it"),
        ({"security_protocol": "TLS"}, "CANDLEFLOW_KAFKA_SECURITY_PROTOCOL='TLS' is not valid: expected one of"),
        ({"sasl_mechanism": "GSSAPI"}, "expected one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"),
        ({"ssl_check_hostname": "maybe"}, "expected true or false"),
    ],
)
def test_inconsistent_security_settings_say_what_to_fix(pem: Pem, variables: dict[str, str], message: str) -> None:
    variables = {k: str(pem.cert) if v == "CERT" else v for k, v in variables.items()}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        settings(**variables)


def test_secrets_stay_out_of_reprs() -> None:
    secret = settings(security_protocol="SASL_PLAINTEXT", sasl_username="ann", sasl_password="hunter2")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in repr(KafkaConfig.from_settings(secret))


async def test_every_factory_builds_a_client_aiokafka_accepts(pem: Pem) -> None:
    """aiokafka checks the protocol, the TLS context and the SASL arguments when a client
    is built: each security combination passes for each kind of client."""
    combinations = [
        config(),
        config(security_protocol="SSL", ssl_cafile=str(pem.ca)),
        config(security_protocol="SASL_PLAINTEXT", sasl_username="a", sasl_password="p"),
        config(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-256", sasl_username="a", sasl_password="p"),
    ]
    for kafka in combinations:
        producer = clients.producer(kafka, "p", linger_ms=0)
        group, reader = clients.group_consumer(kafka, "g", "group"), clients.assigned_reader(kafka, "r")
        admin, bare = clients.admin(kafka), clients.metadata_client(kafka, "m", request_timeout_s=1)
        assert isinstance(producer, AIOKafkaProducer)
        assert isinstance(group, AIOKafkaConsumer) and isinstance(reader, AIOKafkaConsumer)
        assert isinstance(admin, AIOKafkaAdminClient) and isinstance(bare, AIOKafkaClient)
        for close in (producer.stop, group.stop, reader.stop, admin.close, bare.close):
            await close()


async def test_connection_arguments_come_from_the_config_only() -> None:
    with pytest.raises(TypeError, match="bootstrap_servers come from the KafkaConfig"):
        clients.producer(config(), "p", bootstrap_servers="elsewhere:9092")
    with pytest.raises(TypeError, match="group_id"):
        clients.assigned_reader(config(), "r", group_id="sneaky")
