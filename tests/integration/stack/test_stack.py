"""The local stack is real: records go through the broker, rows through PostgreSQL,
migrations are idempotent, and stopping leaves no process behind."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import UnknownTopicOrPartitionError

from candleflow.stack import KafkaSecurity, Stack, StackInfo, aio, procs
from candleflow.stack.ports import free_port
from candleflow.stack.postgres import RELOCATED, PostgresServer, url
from candleflow.store.connection import capability, connect
from candleflow.store.migrate import migrate, migrations
from tests.harness import Names, WorkerFactory, consume_all, create_topics, jar_cache, temporary_stack_dir

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


async def test_produce_and_consume_through_the_broker(stack: StackInfo, names: Names) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 4})
    symbols = [f"Test:S{i}/USD" for i in range(6)]
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(120):
            symbol = symbols[n % len(symbols)]
            await producer.send(names.ticks_topic, f"{n}".encode(), key=symbol.encode())
        await producer.flush()
    finally:
        await producer.stop()

    records = await consume_all(stack.kafka_bootstrap, names.ticks_topic, timeout=30)

    assert len(records) == 120
    partitions_of: dict[bytes | None, set[int]] = defaultdict(set)
    values_of: dict[bytes | None, list[int]] = defaultdict(list)
    for key, value, partition, _offset in records:
        partitions_of[key].add(partition)
        values_of[key].append(int(value))
    assert all(len(p) == 1 for p in partitions_of.values()), "a key must live in one partition"
    assert all(v == sorted(v) for v in values_of.values()), "one key's records keep their order"
    assert len({p for ps in partitions_of.values() for p in ps}) > 1


async def test_topics_are_never_auto_created(stack: StackInfo, names: Names) -> None:
    """The broker's own config says so, and a producer that asks for a missing topic's
    metadata (which creates it where auto-creation is on) leaves no topic behind."""
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, request_timeout_ms=1000)
    await producer.start()
    try:
        (described,) = await admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")])
        (resource,) = described.resources
        config = {entry[0]: entry[1] for entry in resource[4]}
        with pytest.raises(UnknownTopicOrPartitionError):  # the broker answers: no such topic
            await producer.send(names.dead_topic, b"x")
        topics = await admin.list_topics()
    finally:
        await producer.stop()
        await admin.close()
    assert config["auto.create.topics.enable"] == "false"
    assert names.dead_topic not in topics


async def test_query_the_real_database(stack: StackInfo, database_url: str) -> None:
    conn = await connect(database_url)
    try:
        version = await conn.fetchval("SHOW server_version_num")
        await conn.execute("INSERT INTO symbols VALUES ('Test:BTC/USD', 'Test', 'BTC', 'USD', 2, now(), now())")
        row = await conn.fetchrow("SELECT base, quote FROM symbols WHERE symbol = 'Test:BTC/USD'")
        found = await capability(conn)
    finally:
        await conn.close()
    assert int(version) >= 150000
    assert row is not None and tuple(row) == ("BTC", "USD")
    assert found == ("timescaledb" if stack.timescaledb else "postgresql")


async def test_migrations_are_idempotent(stack: StackInfo, database_url: str) -> None:
    # The fixture migrated once: a second and a third run apply nothing.
    assert await migrate(database_url) == []
    assert await migrate(database_url) == []
    conn = await asyncpg.connect(database_url)
    try:
        recorded = [r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations ORDER BY name")]
        tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables")}
    finally:
        await conn.close()
    assert recorded == [p.name for p in migrations()]
    assert {"bars", "symbols", "indicators", "marks", "source_offsets"} <= tables


async def test_worker_subprocess_serves_http(
    stack: StackInfo, names: Names, database_url: str, worker_factory: WorkerFactory
) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2})
    worker = worker_factory.start(names.env(stack, database_url))
    worker.wait_ready(timeout=90)
    assert worker.rss_bytes() > 0
    worker.kill()
    assert not worker.running


def _no_process_of(stack_dir: Path) -> list[int]:
    return procs.pids_with(str(stack_dir))


def test_cli_up_and_down_then_the_python_api_on_the_same_directory(stack: StackInfo) -> None:
    """A stack directory of its own (the jars linked from the cache), from inside the
    clone: `eval "$(candleflow stack up)"`, migrate, the same stack again with SASL_SSL,
    TLS on PostgreSQL and a replica (migrating through verify-full), `candleflow stack
    down`; then the Python API brings the same directory up again (its state, secured,
    survives the CLI's down), crashes and restarts each service, goes back to plaintext
    without a replica, and stops it all, leaving no process behind."""
    directory = temporary_stack_dir("candleflow-test-stack-")
    (directory / "kafka").mkdir()
    (directory / "kafka" / "libs").symlink_to(jar_cache())
    bindir = Path(sys.executable).parent
    script = """
set -euo pipefail
eval "$(candleflow stack up)"
test "$CANDLEFLOW_STACK_DIR" = "$EXPECTED_DIR"
candleflow stack status | grep -q 'kafka 4.3.1: running'
candleflow stack status | grep -q 'postgresql: running'
candleflow db migrate
test -z "${CANDLEFLOW_KAFKA_SECURITY_PROTOCOL:-}"
eval "$(candleflow stack up --kafka-security sasl_ssl --sasl-mechanism scram-sha-256 --pg-tls --pg-replica)"
test "$CANDLEFLOW_KAFKA_SECURITY_PROTOCOL" = SASL_SSL
test "$CANDLEFLOW_KAFKA_SASL_MECHANISM" = SCRAM-SHA-256
test "$CANDLEFLOW_KAFKA_SSL_CAFILE" = "$EXPECTED_DIR/tls/ca.pem"
test -n "$CANDLEFLOW_KAFKA_SASL_PASSWORD"
case "$CANDLEFLOW_DATABASE_URL" in *sslmode=verify-full*) ;; *) exit 3 ;; esac
candleflow db migrate
candleflow stack status | grep -q 'kafka SASL_SSL: 127.0.0.1:'
candleflow stack status | grep -q 'replica: running, .*streaming'
candleflow stack down
candleflow stack status | grep -q 'kafka: stopped'
candleflow stack status | grep -q 'replica: stopped'
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDLEFLOW_")}
    env.update(
        PATH=f"{bindir}{os.pathsep}{env['PATH']}",
        CANDLEFLOW_STACK_DIR=str(directory),
        EXPECTED_DIR=str(directory),
    )
    own = Stack(directory, jar_dir=jar_cache(), quiet=True)
    try:
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=REPO / "candleflow",
            env=env,
            capture_output=True,
            text=True,
            timeout=400,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "applied 001_core.sql" in result.stdout
        assert _no_process_of(directory) == own.processes() == []
        info = own.up()
        assert own.up() == info  # idempotent
        assert info.kafka_security.protocols == ("SASL_SSL",) and info.pg_tls and info.replica_port
        assert aio.run(lambda: migrate(info.database_url)) == []  # the data directory outlived the CLI's down
        own.kill_kafka()
        assert "kafka: stopped" in own.status()
        own.start_kafka()
        own.stop_postgres(mode="immediate")
        assert "postgresql: stopped" in own.status()
        own.start_postgres()
        assert own.running() == info
        plain = Stack(
            directory, jar_dir=jar_cache(), quiet=True, kafka_security=KafkaSecurity(), pg_tls=False, replica=False
        )
        back = plain.up()
        assert back.env() == {
            "CANDLEFLOW_KAFKA_BOOTSTRAP": back.kafka_bootstrap,
            "CANDLEFLOW_DATABASE_URL": f"postgresql://candleflow@127.0.0.1:{back.pg_port}/candleflow",
            "CANDLEFLOW_STACK_DIR": str(directory),
        }
        assert plain.standby.pid() is None and not (directory / "replica").exists()
        assert aio.run(lambda: migrate(back.database_url)) == []
    finally:
        own.down()
        left = _no_process_of(directory)
        shutil.rmtree(directory, ignore_errors=True)
    assert left == []


async def _current_database(port: int) -> str:
    conn = await asyncpg.connect(url(port), timeout=10)
    try:
        return str(await conn.fetchval("SELECT current_database()"))
    finally:
        await conn.close()


def test_postgres_starts_from_a_clone_inside_a_mode_700_home() -> None:
    """`make run` in a clone under root's (or anyone's) mode-700 home: as root the cluster
    moves where the server user can reach it, behind a symlink; as a normal user it runs
    in place. Either way nothing is asked of the user and the home stays 0700."""
    home = Path(tempfile.mkdtemp(prefix="candleflow-home-"))
    home.chmod(0o700)
    stack_dir = home / "clone" / ".stack"
    stack_dir.mkdir(parents=True)
    server = PostgresServer(stack_dir / "postgres")
    port = free_port()
    try:
        server.prepare(port)
        server.start()
        server.wait_ready(port, 90)
        server.ensure_database(port)
        assert aio.run(lambda: _current_database(port)) == "candleflow"
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        if os.geteuid() == 0:
            assert (stack_dir / "postgres").is_symlink()
            assert RELOCATED in server.location.parents
            owner = pwd.getpwuid(server.data.stat().st_uid).pw_name
            assert owner in ("postgres", "candleflow")
        else:
            assert server.location == (stack_dir / "postgres").resolve()
            assert server.data.stat().st_uid == os.geteuid()
    finally:
        server.stop("immediate")
        location = server.location
        shutil.rmtree(home, ignore_errors=True)
        if RELOCATED in location.parents:
            shutil.rmtree(location.parent, ignore_errors=True)
