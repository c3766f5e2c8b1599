"""The local stack's secured services are real: records cross every secured Kafka
listener with every SASL mechanism through candleflow's one Kafka configuration, built
from the variables `candleflow stack up` exports; a wrong password, an untrusted CA, a
missing client certificate and a protocol that is not the listener's are refused by the
start-up check, which names what to fix; PostgreSQL answers `sslmode=verify-full` with
the stack's CA and refuses a foreign CA (named by the start-up check) and an unencrypted
connection; the replica replays what the primary commits."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from pathlib import Path

import asyncpg
import pytest
from aiokafka import TopicPartition

from candleflow.core.settings import Settings
from candleflow.kafka import clients, preflight
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.exceptions import KafkaRefused
from candleflow.stack import Stack, StackInfo
from candleflow.stack.tls import make_ca
from candleflow.store import preflight as database_preflight
from candleflow.store.preflight import DatabaseRefused
from tests.harness import create_topics
from tests.harness.waiting import eventually

pytestmark = pytest.mark.integration

#: Every secured listener with every mechanism it accepts (None: TLS client certificate).
COMBINATIONS = [
    ("SSL", None),
    *((protocol, mechanism) for protocol in ("SASL_SSL", "SASL_PLAINTEXT") for mechanism in
      ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")),
]  # fmt: skip


def config(env: dict[str, str]) -> KafkaConfig:
    """The one Kafka configuration of candleflow, from the variables `candleflow stack up` exports."""
    return KafkaConfig.from_settings(Settings.from_env(env))


@pytest.mark.parametrize(("protocol", "mechanism"), COMBINATIONS)
async def test_records_cross_every_secured_listener(
    secured_stack: StackInfo, protocol: str, mechanism: str | None
) -> None:
    topic = f"secured-{protocol.lower()}-{uuid.uuid4().hex[:8]}"
    await create_topics(secured_stack.kafka_bootstrap, {topic: 1})
    env = secured_stack.kafka_env(protocol, mechanism)
    assert env["CANDLEFLOW_KAFKA_SECURITY_PROTOCOL"] == protocol
    assert env["CANDLEFLOW_KAFKA_BOOTSTRAP"] != secured_stack.kafka_bootstrap, "not the plaintext listener"
    kafka = config(env)
    assert (await preflight.check(kafka)).unreachable == ()
    sent = [f"{protocol} {mechanism} {n}".encode() for n in range(3)]
    producer = clients.producer(kafka, "test")
    await producer.start()
    try:
        for value in sent:
            await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()
    consumer = clients.assigned_reader(kafka, "test")
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

        await eventually(all_read, 30, what=f"the records came back over {protocol}")
    finally:
        await consumer.stop()
    assert received == sent


async def refusal(env: dict[str, str]) -> str:
    """What the start-up check says of a client the broker must refuse."""
    with pytest.raises(KafkaRefused) as refused:
        await preflight.check(config(env))
    return str(refused.value)


@pytest.mark.parametrize(("protocol", "mechanism"), [("SASL_SSL", "SCRAM-SHA-512"), ("SASL_PLAINTEXT", "PLAIN")])
async def test_a_wrong_password_is_refused(secured_stack: StackInfo, protocol: str, mechanism: str) -> None:
    env = secured_stack.kafka_env(protocol, mechanism) | {"CANDLEFLOW_KAFKA_SASL_PASSWORD": "not-the-password"}
    reason = await refusal(env)
    assert f"refused the login of user 'candleflow' with {mechanism}" in reason
    assert "CANDLEFLOW_KAFKA_SASL_PASSWORD" in reason


async def test_an_untrusted_ca_is_refused(secured_stack: StackInfo, tmp_path: Path) -> None:
    foreign = make_ca(tmp_path, "not the stack's CA")
    env = secured_stack.kafka_env("SASL_SSL") | {"CANDLEFLOW_KAFKA_SSL_CAFILE": str(foreign.ca)}
    reason = await refusal(env)
    assert f"not signed by the CA of CANDLEFLOW_KAFKA_SSL_CAFILE={foreign.ca}" in reason


async def test_the_ssl_listener_wants_a_client_certificate(secured_stack: StackInfo) -> None:
    env = secured_stack.kafka_env("SSL")
    assert env["CANDLEFLOW_KAFKA_SSL_CERTFILE"] == str(secured_stack.tls.client_cert)
    del env["CANDLEFLOW_KAFKA_SSL_CERTFILE"], env["CANDLEFLOW_KAFKA_SSL_KEYFILE"]
    reason = await refusal(env)
    assert f"127.0.0.1:{secured_stack.kafka_port_of('SSL')}" in reason
    assert "client certificate" in reason


async def test_a_protocol_that_is_not_the_listeners_is_named(secured_stack: StackInfo) -> None:
    plain_to_tls = secured_stack.kafka_env("SASL_SSL") | {"CANDLEFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}
    del plain_to_tls["CANDLEFLOW_KAFKA_SSL_CAFILE"]
    assert "is it a TLS listener?" in await refusal(plain_to_tls)
    tls_to_plain = secured_stack.kafka_env("SASL_PLAINTEXT", "PLAIN") | {
        "CANDLEFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CANDLEFLOW_KAFKA_SSL_CAFILE": str(secured_stack.tls.ca),
    }
    assert "is it a plaintext listener?" in await refusal(tls_to_plain)


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
    untrusted = url.replace(str(secured_stack.tls.ca), str(foreign.ca))
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        await _ssl_in_use(untrusted)
    assert await database_preflight.check(url, "CANDLEFLOW_DATABASE_URL") is None
    with pytest.raises(DatabaseRefused, match=f"not signed by the CA of sslrootcert={foreign.ca}"):
        await database_preflight.check(untrusted, "CANDLEFLOW_DATABASE_URL")
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

        await eventually(replayed, 30, what="the replica holds the primary's rows")
        await eventually(
            lambda: asyncio.to_thread(lambda: secured_stack_control.replica_lag().caught_up), 30, what="the lag is zero"
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

            await eventually(replayed, 30, what="the restarted replica replayed what it missed")
        finally:
            await replica.close()
    finally:
        await primary.execute(f"DROP TABLE IF EXISTS {table}")
        await primary.close()
