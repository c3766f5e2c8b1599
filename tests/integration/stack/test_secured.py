"""The local stack's secured services are real: records cross every secured Kafka
listener with every SASL mechanism, using the variables `candleflow stack up` exports;
a wrong password, an untrusted CA and a missing client certificate are refused;
PostgreSQL answers `sslmode=verify-full` with the stack's CA and refuses a foreign CA
and an unencrypted connection; the replica replays what the primary commits."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError
from aiokafka.helpers import create_ssl_context

from candleflow.stack import Stack, StackInfo
from candleflow.stack.tls import make_ca
from tests.harness import create_topics

pytestmark = pytest.mark.integration

#: Every secured listener with every mechanism it accepts (None: TLS client certificate).
COMBINATIONS = [
    ("SSL", None),
    *((protocol, mechanism) for protocol in ("SASL_SSL", "SASL_PLAINTEXT") for mechanism in
      ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")),
]  # fmt: skip


def aiokafka_options(env: dict[str, str]) -> dict[str, Any]:
    """aiokafka keyword arguments from the CANDLEFLOW_KAFKA_* variables of `env` (until
    `candleflow.kafka` builds every client from settings, tests read the exports so)."""
    options: dict[str, Any] = {
        "bootstrap_servers": env["CANDLEFLOW_KAFKA_BOOTSTRAP"],
        "security_protocol": env.get("CANDLEFLOW_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
        "request_timeout_ms": 10_000,
    }
    if "CANDLEFLOW_KAFKA_SSL_CAFILE" in env:
        context = create_ssl_context(
            cafile=env["CANDLEFLOW_KAFKA_SSL_CAFILE"],
            certfile=env.get("CANDLEFLOW_KAFKA_SSL_CERTFILE"),
            keyfile=env.get("CANDLEFLOW_KAFKA_SSL_KEYFILE"),
        )
        context.check_hostname = env["CANDLEFLOW_KAFKA_SSL_CHECK_HOSTNAME"] == "true"
        options["ssl_context"] = context
    if "CANDLEFLOW_KAFKA_SASL_MECHANISM" in env:
        options |= {
            "sasl_mechanism": env["CANDLEFLOW_KAFKA_SASL_MECHANISM"],
            "sasl_plain_username": env["CANDLEFLOW_KAFKA_SASL_USERNAME"],
            "sasl_plain_password": env["CANDLEFLOW_KAFKA_SASL_PASSWORD"],
        }
    return options


async def _eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize(("protocol", "mechanism"), COMBINATIONS)
async def test_records_cross_every_secured_listener(
    secured_stack: StackInfo, protocol: str, mechanism: str | None
) -> None:
    topic = f"secured-{protocol.lower()}-{uuid.uuid4().hex[:8]}"
    await create_topics(secured_stack.kafka_bootstrap, {topic: 1})
    env = secured_stack.kafka_env(protocol, mechanism)
    assert env["CANDLEFLOW_KAFKA_SECURITY_PROTOCOL"] == protocol
    assert env["CANDLEFLOW_KAFKA_BOOTSTRAP"] != secured_stack.kafka_bootstrap, "not the plaintext listener"
    options = aiokafka_options(env)
    sent = [f"{protocol} {mechanism} {n}".encode() for n in range(3)]
    producer = AIOKafkaProducer(acks="all", **options)
    await producer.start()
    try:
        for value in sent:
            await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, **options)
    await consumer.start()
    received: list[bytes] = []
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)

        async def all_read() -> bool:
            batch = await consumer.getmany(partition, timeout_ms=500)
            received.extend(m.value for m in batch.get(partition, []))
            return len(received) >= len(sent)

        await _eventually(all_read, f"the records came back over {protocol}")
    finally:
        await consumer.stop()
    assert received == sent


async def _refusal(options: dict[str, Any], caplog: pytest.LogCaptureFixture) -> str:
    """Start a producer that must be refused; the reason aiokafka logged for it."""
    caplog.clear()
    producer = AIOKafkaProducer(**options)
    with caplog.at_level(logging.ERROR, logger="aiokafka"), pytest.raises(KafkaConnectionError):
        try:
            await producer.start()
        finally:
            await producer.stop()
    return "\n".join(r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("protocol", "mechanism"), [("SASL_SSL", "SCRAM-SHA-512"), ("SASL_PLAINTEXT", "PLAIN")])
async def test_a_wrong_password_is_refused(
    secured_stack: StackInfo, protocol: str, mechanism: str, caplog: pytest.LogCaptureFixture
) -> None:
    env = secured_stack.kafka_env(protocol, mechanism) | {"CANDLEFLOW_KAFKA_SASL_PASSWORD": "not-the-password"}
    reason = await _refusal(aiokafka_options(env), caplog)
    assert "SaslAuthenticationFailed" in reason
    assert "invalid credentials" in reason.lower() or "invalid username or password" in reason.lower()


async def test_an_untrusted_ca_is_refused(
    secured_stack: StackInfo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    foreign = make_ca(tmp_path, "not the stack's CA")
    env = secured_stack.kafka_env("SASL_SSL") | {"CANDLEFLOW_KAFKA_SSL_CAFILE": str(foreign.ca)}
    reason = await _refusal(aiokafka_options(env), caplog)
    assert "CERTIFICATE_VERIFY_FAILED" in reason


async def test_the_ssl_listener_wants_a_client_certificate(
    secured_stack: StackInfo, caplog: pytest.LogCaptureFixture
) -> None:
    env = secured_stack.kafka_env("SSL")
    assert env["CANDLEFLOW_KAFKA_SSL_CERTFILE"] == str(secured_stack.tls.client_cert)
    del env["CANDLEFLOW_KAFKA_SSL_CERTFILE"], env["CANDLEFLOW_KAFKA_SSL_KEYFILE"]
    reason = await _refusal(aiokafka_options(env), caplog)
    assert f"127.0.0.1:{secured_stack.kafka_port_of('SSL')}" in reason


async def _ssl_in_use(url: str) -> bool:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return bool(await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))
    finally:
        await conn.close()


async def test_postgres_verify_full_with_the_stack_ca(secured_stack: StackInfo, tmp_path: Path) -> None:
    url = secured_stack.database_url
    assert f"sslmode=verify-full&sslrootcert={secured_stack.tls.ca}" in url
    assert await _ssl_in_use(url)
    assert await _ssl_in_use(url.replace("127.0.0.1", "localhost")), "the certificate names localhost too"
    foreign = make_ca(tmp_path, "not the stack's CA")
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        await _ssl_in_use(url.replace(str(secured_stack.tls.ca), str(foreign.ca)))
    unencrypted = url.split("?", 1)[0] + "?sslmode=disable"
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="no encryption"):
        await _ssl_in_use(unencrypted)


async def test_the_replica_replays_the_primary(secured_stack: StackInfo, secured_stack_control: Stack) -> None:
    assert secured_stack.replica_url and "sslmode=verify-full" in secured_stack.replica_url
    table = f"replicated_{uuid.uuid4().hex[:8]}"
    primary = await asyncpg.connect(secured_stack.database_url, timeout=10)
    replica = await asyncpg.connect(secured_stack.replica_url, timeout=10)
    try:
        assert await replica.fetchval("SELECT pg_is_in_recovery()")
        await primary.execute(f"CREATE TABLE {table} (n int)")
        await primary.execute(f"INSERT INTO {table} SELECT generate_series(1, 1000)")

        async def replayed() -> bool:
            try:
                return bool(await replica.fetchval(f"SELECT sum(n) FROM {table}") == 500_500)
            except asyncpg.UndefinedTableError:
                return False

        await _eventually(replayed, "the replica holds the primary's rows")
        await _eventually(
            lambda: asyncio.to_thread(lambda: secured_stack_control.replica_lag().caught_up), "the lag is zero"
        )
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await replica.execute(f"INSERT INTO {table} VALUES (1)")
    finally:
        await replica.close()
        await primary.execute(f"DROP TABLE IF EXISTS {table}")
        await primary.close()
    lag = secured_stack_control.replica_lag()
    assert lag.streaming
    assert "replica: running" in secured_stack_control.status()


async def test_a_stopped_replica_catches_up_when_started(
    secured_stack: StackInfo, secured_stack_control: Stack
) -> None:
    """The replica stops alone (its process gone), misses writes, and on `up` streams
    them from its slot on the primary."""
    table = f"missed_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(secured_stack_control.stop_replica)
    assert secured_stack_control.standby.pid() is None
    assert secured_stack_control.running() is None, "a configured replica that is down: the stack is not whole"
    primary = await asyncpg.connect(secured_stack.database_url, timeout=10)
    try:
        await primary.execute(f"CREATE TABLE {table} AS SELECT 7 AS n")
        assert await asyncio.to_thread(secured_stack_control.up) == secured_stack
        assert secured_stack.replica_url
        replica = await asyncpg.connect(secured_stack.replica_url, timeout=10)
        try:

            async def replayed() -> bool:
                try:
                    return bool(await replica.fetchval(f"SELECT n FROM {table}") == 7)
                except asyncpg.UndefinedTableError:
                    return False

            await _eventually(replayed, "the restarted replica replayed what it missed")
        finally:
            await replica.close()
    finally:
        await primary.execute(f"DROP TABLE IF EXISTS {table}")
        await primary.close()
