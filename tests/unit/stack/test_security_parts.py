"""Pure parts of the secured stack: what `--kafka-security` accepts, the broker
properties of each listener, the exports of each client, the certificates."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from candleflow.core.settings import SETTINGS_DOC
from candleflow.stack import KafkaSecurity, StackError, StackInfo
from candleflow.stack.kafka import KafkaServer
from candleflow.stack.kafka_security import USERNAME, listener_properties, password, scram_format_args
from candleflow.stack.postgres import hba
from candleflow.stack.tls import ensure_tls


def test_the_command_line_spelling() -> None:
    assert KafkaSecurity.parse("sasl_ssl") == KafkaSecurity(("SASL_SSL",))
    assert KafkaSecurity.parse("ssl, sasl_plaintext", "plain", "Required") == KafkaSecurity(
        ("SSL", "SASL_PLAINTEXT"), "PLAIN", "required"
    )
    assert KafkaSecurity.parse("plaintext") == KafkaSecurity()
    assert not KafkaSecurity().secured
    with pytest.raises(StackError, match=r"ssl, sasl_ssl, sasl_plaintext"):
        KafkaSecurity.parse("tls")
    with pytest.raises(StackError, match="each once"):
        KafkaSecurity.parse("ssl,ssl")
    with pytest.raises(StackError, match="SCRAM-SHA-512"):
        KafkaSecurity.parse("sasl_ssl", "scram-sha-1")
    with pytest.raises(StackError, match="required"):
        KafkaSecurity.parse("ssl", client_auth="always")


def test_listener_properties(tmp_path: Path) -> None:
    tls = ensure_tls(tmp_path / "tls")
    security = KafkaSecurity(("SSL", "SASL_PLAINTEXT"), client_auth="required")
    props = listener_properties(security, tmp_path, tls, "s3cret")
    assert props["listener.name.ssl.ssl.client.auth"] == "required"
    assert props["ssl.truststore.location"] == str(tls.ca)
    store = Path(props["ssl.keystore.location"])
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert store.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert props["sasl.enabled.mechanisms"] == "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
    assert f'user_{USERNAME}="s3cret"' in props["listener.name.sasl_plaintext.plain.sasl.jaas.config"]
    assert "ScramLoginModule" in props["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"]
    assert not any(key.startswith("listener.name.sasl_ssl") for key in props)
    assert listener_properties(KafkaSecurity(), tmp_path, None, "x") == {}
    assert scram_format_args("pw") == [
        "--add-scram", f"SCRAM-SHA-256=[name={USERNAME},password=pw]",
        "--add-scram", f"SCRAM-SHA-512=[name={USERNAME},password=pw]",
    ]  # fmt: skip


def test_the_password_is_made_once_and_private(tmp_path: Path) -> None:
    first = password(tmp_path)
    assert len(first) >= 32 and password(tmp_path) == first
    assert stat.S_IMODE((tmp_path / "sasl-password").stat().st_mode) == 0o600


def test_the_exports_of_each_listener(tmp_path: Path) -> None:
    info = StackInfo(
        tmp_path,
        9100,
        5500,
        False,
        kafka_security=KafkaSecurity(("SASL_SSL", "SSL", "SASL_PLAINTEXT"), "PLAIN", "required"),
        kafka_secure_ports=(("SASL_SSL", 9101), ("SSL", 9102), ("SASL_PLAINTEXT", 9103)),
        pg_tls=True,
        replica_port=5501,
    )
    ca = str(tmp_path / "tls" / "ca.pem")
    secret = info.kafka_password
    assert info.env() == {
        "CANDLEFLOW_KAFKA_BOOTSTRAP": "127.0.0.1:9101",
        "CANDLEFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CANDLEFLOW_KAFKA_SSL_CAFILE": ca,
        "CANDLEFLOW_KAFKA_SSL_CHECK_HOSTNAME": "true",
        "CANDLEFLOW_KAFKA_SASL_MECHANISM": "PLAIN",
        "CANDLEFLOW_KAFKA_SASL_USERNAME": USERNAME,
        "CANDLEFLOW_KAFKA_SASL_PASSWORD": secret,
        "CANDLEFLOW_DATABASE_URL": f"postgresql://candleflow@127.0.0.1:5500/candleflow?sslmode=verify-full&sslrootcert={ca}",
        "CANDLEFLOW_STACK_DIR": str(tmp_path),
    }  # fmt: skip
    assert info.kafka_env("SSL") == {
        "CANDLEFLOW_KAFKA_BOOTSTRAP": "127.0.0.1:9102",
        "CANDLEFLOW_KAFKA_SECURITY_PROTOCOL": "SSL",
        "CANDLEFLOW_KAFKA_SSL_CAFILE": ca,
        "CANDLEFLOW_KAFKA_SSL_CHECK_HOSTNAME": "true",
        "CANDLEFLOW_KAFKA_SSL_CERTFILE": str(tmp_path / "tls" / "client.pem"),
        "CANDLEFLOW_KAFKA_SSL_KEYFILE": str(tmp_path / "tls" / "client.key"),
    }
    plain_sasl = info.kafka_env("SASL_PLAINTEXT", "SCRAM-SHA-256")
    assert plain_sasl["CANDLEFLOW_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-256"
    assert "CANDLEFLOW_KAFKA_SSL_CAFILE" not in plain_sasl
    assert info.kafka_env("PLAINTEXT") == {"CANDLEFLOW_KAFKA_BOOTSTRAP": "127.0.0.1:9100"}
    assert info.replica_url == f"postgresql://candleflow@127.0.0.1:5501/candleflow?sslmode=verify-full&sslrootcert={ca}"
    assert info.database_url_of("other").startswith("postgresql://candleflow@127.0.0.1:5500/other?sslmode=verify-full")


def test_every_export_is_a_setting(tmp_path: Path) -> None:
    info = StackInfo(tmp_path, 1, 2, False, KafkaSecurity(("SASL_SSL", "SSL")), (("SASL_SSL", 3), ("SSL", 4)), True, 5)
    known = {name for name, _default, _meaning in SETTINGS_DOC}
    exported = set(info.env()) | set(info.kafka_env("SSL"))
    assert exported - known == set()


def test_certificates_chain_to_the_ca_and_name_the_local_host(tmp_path: Path) -> None:
    tls = ensure_tls(tmp_path)
    modified = tls.ca.stat().st_mtime_ns
    assert ensure_tls(tmp_path) == tls and tls.ca.stat().st_mtime_ns == modified, "made once"
    for cert in (tls.server_cert, tls.client_cert):
        verified = subprocess.run(
            ["openssl", "verify", "-CAfile", str(tls.ca), str(cert)], capture_output=True, text=True, check=False
        )
        assert verified.returncode == 0, verified.stderr
    names = subprocess.run(
        ["openssl", "x509", "-in", str(tls.server_cert), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "DNS:localhost" in names and "IP Address:127.0.0.1" in names
    for key in (tls.ca_key, tls.server_key, tls.client_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_pg_hba_refuses_unencrypted_tcp_only_with_tls() -> None:
    assert "hostnossl  all          all   127.0.0.1/32   reject" in hba(True)
    assert "hostssl    replication  all   127.0.0.1/32   trust" in hba(True)
    assert "hostnossl" not in hba(False) and "host       replication  all   127.0.0.1/32   trust" in hba(False)


def test_a_broker_formatted_before_sasl_users_is_refused_clearly(tmp_path: Path) -> None:
    server = KafkaServer(tmp_path / "kafka", tmp_path / "libs")
    server.data.mkdir(parents=True)
    (server.data / "meta.properties").write_text("version=1\n")
    (tmp_path / "libs").mkdir()
    with pytest.raises(StackError, match="formatted before the stack created SASL users"):
        server.prepare(9092, 9093, KafkaSecurity(("SASL_SSL",)), {"SASL_SSL": 9094})
