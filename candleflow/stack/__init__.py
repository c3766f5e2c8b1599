"""The local stack: Apache Kafka (KRaft) from the official jars and PostgreSQL from the
system's binaries, as background processes with their own ports and data directory.
Used by `candleflow stack up|down|status`, `make run`, the tests and the benchmarks."""

from candleflow.stack.exceptions import MissingTool, PortBusy, StackError
from candleflow.stack.info import StackInfo
from candleflow.stack.kafka_security import KafkaSecurity
from candleflow.stack.replica import ReplicaLag
from candleflow.stack.stack import Stack

__all__ = ["KafkaSecurity", "MissingTool", "PortBusy", "ReplicaLag", "Stack", "StackError", "StackInfo"]
