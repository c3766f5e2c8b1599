"""Apache Kafka (KRaft, single node: broker + controller) from the official jars.

The jars come from Maven Central through `stack/pom.xml` (carried in the wheel) and the machine's `mvn`, once:
a marker file remembers which pom they were resolved from. Storage is formatted on the
first start. The broker runs in its own session with its output in files.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from candleflow.core.bundled import bundled
from candleflow.stack import aio, procs
from candleflow.stack.exceptions import MissingTool, StackError
from candleflow.stack.kafka_security import (
    SCRAM_MARKER,
    KafkaSecurity,
    listener_properties,
    password,
    scram_format_args,
)
from candleflow.stack.state import locked
from candleflow.stack.tls import TlsFiles

KAFKA_VERSION = "4.3.1"
HEAP = "-Xmx512m"


def find_pom() -> Path:
    """The Kafka pom: inside the installed package, or `stack/pom.xml` of the clone."""
    path = bundled("pom")
    if not path.is_file():
        raise StackError(f"{path} not found: reinstall candleflow from its wheel or a clone (pip install -e .)")
    return path


def find_java() -> str:
    """The `java` to run (JAVA_HOME first, then PATH), checked to be 17 or newer."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    hint = "install openjdk-17-jre-headless or set JAVA_HOME"
    if not java or not Path(java).exists():
        raise MissingTool(f"Java 17+ not found on PATH: {hint}")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    major = int(match.group(1)) if match else 0
    if major == 1 and match and match.group(2):
        major = int(match.group(2))  # "1.8.0" style
    if major < 17:
        raise MissingTool(f"Java 17+ not found on PATH ({java} is version {major or '?'}): {hint}")
    return java


def ensure_jars(libs: Path, log: Path) -> None:
    """Resolve the broker jars into `libs` unless they are there for the current pom."""
    pom = find_pom()
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    marker = libs / ".resolved"
    if marker.is_file() and marker.read_text().strip() == digest:
        return
    with locked(libs.parent / f".{libs.name}.lock"):
        if marker.is_file() and marker.read_text().strip() == digest:
            return  # another process resolved them while we waited
        mvn = shutil.which("mvn")
        if not mvn:
            raise MissingTool(
                "mvn not found on PATH: install maven (apt-get install maven) so the "
                f"Kafka {KAFKA_VERSION} jars can be resolved from Maven Central"
            )
        tmp = libs.with_name(libs.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f"resolving Kafka {KAFKA_VERSION} jars with mvn into {libs} ...", file=sys.stderr)
        with log.open("w") as out:
            result = subprocess.run(
                [
                    mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
                    f"-DoutputDirectory={tmp}", "-DincludeScope=runtime",
                ],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False,
            )  # fmt: skip
        if result.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
            raise StackError(
                f"mvn could not resolve the Kafka jars (exit {result.returncode}); see {log}:\n{procs.tail(log)}"
            )
        shutil.rmtree(libs, ignore_errors=True)
        tmp.rename(libs)
        marker.write_text(digest + "\n")


def cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


LOG4J2 = """\
status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
"""


class KafkaServer:
    """One broker+controller node living in `home` (config, data, logs)."""

    def __init__(self, home: Path, libs: Path) -> None:
        self.home = home
        self.libs = libs
        self.data = home / "data"
        self.logs = home / "logs"
        self.config = home / "server.properties"
        self.log4j = home / "log4j2.properties"

    @property
    def log_path(self) -> Path:
        return self.logs / "server.log"

    @property
    def out_path(self) -> Path:
        return self.logs / "kafka.out"

    @property
    def password(self) -> str:
        """The SASL user's password (generated on first use, kept in `home`)."""
        return password(self.home)

    def prepare(
        self,
        port: int,
        controller_port: int,
        security: KafkaSecurity | None = None,
        secure_ports: dict[str, int] | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        """Jars, configuration and (first time only) formatted storage, with the SCRAM
        user in its metadata so that SASL listeners can be opened on any later start."""
        security = security or KafkaSecurity()
        java = find_java()
        ensure_jars(self.libs, self.logs / "mvn.log")
        self.logs.mkdir(parents=True, exist_ok=True)
        formatted = (self.data / "meta.properties").is_file()
        if security.sasl and formatted and not (self.home / SCRAM_MARKER).is_file():
            raise StackError(
                f"the Kafka storage in {self.data} was formatted before the stack created SASL users: "
                "stop the stack and remove that directory (its topics go with it), or use another "
                "CANDLEFLOW_STACK_DIR"
            )
        self.config.touch(mode=0o600)
        self.config.chmod(0o600)  # it holds the PLAIN user's password
        self.config.write_text(self._properties(port, controller_port, security, secure_ports or {}, tls))
        self.log4j.write_text(LOG4J2)
        if not formatted:
            self._format(java)
            (self.home / SCRAM_MARKER).write_text("SCRAM-SHA-256,SCRAM-SHA-512\n")

    def _properties(
        self,
        port: int,
        controller_port: int,
        security: KafkaSecurity,
        secure_ports: dict[str, int],
        tls: TlsFiles | None,
    ) -> str:
        secured = [f"{p}://127.0.0.1:{secure_ports[p]}" for p in security.protocols]
        listeners = [f"PLAINTEXT://127.0.0.1:{port}", *secured]
        protocol_map = ["CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT", *(f"{p}:{p}" for p in security.protocols)]
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
            "listeners": ",".join([*listeners, f"CONTROLLER://127.0.0.1:{controller_port}"]),
            "advertised.listeners": ",".join(listeners),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": ",".join(protocol_map),
            "log.dirs": str(self.data),
            # Topics are created explicitly with their partition count: an auto-created
            # one-partition topic would silently change key=symbol ordering guarantees.
            "auto.create.topics.enable": "false",
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "4",
            **listener_properties(security, self.home, tls, self.password),
        }
        return "".join(f"{key}={value}\n" for key, value in lines.items())

    def _format(self, java: str) -> None:
        log = self.logs / "format.log"
        with log.open("w") as out:
            result = subprocess.run(
                [
                    java, HEAP, f"-Dlog4j2.configurationFile={self.log4j}",
                    f"-Dkafka.logs.dir={self.logs}", "-cp", f"{self.libs}/*",
                    "kafka.tools.StorageTool", "format", "-t", cluster_id(), "-c", str(self.config),
                    *scram_format_args(self.password),
                ],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False,
            )  # fmt: skip
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage in {self.data} failed; see {log}:\n{procs.tail(log)}")

    def start(self) -> int:
        """Start the broker in the background (own session); returns its pid."""
        java = find_java()
        return procs.spawn(
            [
                java, HEAP, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.log4j}", f"-Dkafka.logs.dir={self.logs}",
                "-cp", f"{self.libs}/*", "kafka.Kafka", str(self.config),
            ],
            self.out_path,
            self.home,
        )  # fmt: skip

    def wait_ready(self, pid: int, port: int, timeout: float) -> None:
        """Block until the broker answers a metadata request with itself in it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not procs.alive(pid):
                raise StackError(
                    f"Kafka exited during start; see {self.log_path} and {self.out_path}:\n"
                    f"{procs.tail(self.out_path)}\n{procs.tail(self.log_path)}"
                )
            if aio.run(lambda: answers(f"127.0.0.1:{port}")):
                return
            time.sleep(0.5)
        raise StackError(
            f"Kafka did not answer on 127.0.0.1:{port} within {timeout:.0f}s; "
            f"see {self.log_path}:\n{procs.tail(self.log_path)}"
        )

    def is_kafka(self, pid: int | None) -> bool:
        """True when `pid` runs this stack's broker (not a recycled pid)."""
        return bool(pid) and procs.alive(pid) and str(self.config) in procs.cmdline(pid or 0)

    def stray_pids(self) -> list[int]:
        """Brokers of this stack found by their config path (state file lost or stale)."""
        return procs.pids_with(str(self.config))


async def answers(bootstrap: str) -> bool:
    """One metadata round trip: True when the broker lists at least one live broker."""
    from candleflow.core.logs import silenced
    from candleflow.kafka import clients
    from candleflow.kafka.config import KafkaConfig

    host, port = bootstrap.rsplit(":", 1)
    try:  # a refused TCP connect is the common case while the JVM starts: stay quiet
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 3)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    with silenced("aiokafka"):
        admin = clients.admin(KafkaConfig(bootstrap), "stack-probe", request_timeout_s=3)
        try:
            await asyncio.wait_for(admin.start(), 5)
            cluster = await asyncio.wait_for(admin.describe_cluster(), 5)
            return bool(cluster.get("brokers"))
        except Exception:
            return False
        finally:
            with contextlib.suppress(Exception):
                await admin.close()
