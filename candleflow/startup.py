"""What every long-running process and command checks before it starts: that Kafka and
PostgreSQL accept it with the settings it was given.

A client the servers refuse — a wrong SASL password, a broker certificate the
configured CA does not sign, a PostgreSQL certificate `sslrootcert` does not sign, a
login `pg_hba.conf` rejects — would otherwise retry in the background forever, or be
reported as "unreachable" long after the start. `check` asks each server once
(`candleflow.kafka.preflight`, `candleflow.store.preflight`) and raises the refusal,
naming the setting to change, before anything else runs; the command runner prints it
and exits with code 3. A server that does not answer at all is only logged: a worker
waits for it as it always has, and a command fails on it as it always has.
"""

from __future__ import annotations

import asyncio
import logging

from candleflow.core.settings import Settings, variable
from candleflow.domain.exceptions import CandleflowError
from candleflow.kafka import preflight as kafka_preflight
from candleflow.kafka.config import KafkaConfig
from candleflow.store import preflight as database_preflight

log = logging.getLogger(__name__)


async def check(settings: Settings, *, kafka: bool = True, database: bool = True, replica: bool = False) -> None:
    """Raise the first refusal of the servers asked about (Kafka, the primary database,
    the read replica of `CANDLEFLOW_DATABASE_READ_URL` when set); log the unreachable."""
    checks = []
    if kafka:
        checks.append(_kafka(settings))
    if database:
        checks.append(_database(settings.database_url, variable("database_url")))
    if replica and settings.database_read_url:
        checks.append(_database(settings.database_read_url, variable("database_read_url")))
    results = await asyncio.gather(*checks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, CandleflowError):
            raise result
    for result in results:
        if isinstance(result, CandleflowError):
            raise result


async def _kafka(settings: Settings) -> None:
    config = KafkaConfig.from_settings(settings)
    if config.security_protocol == "SASL_PLAINTEXT" and config.sasl_mechanism == "PLAIN":
        log.warning("SASL_PLAINTEXT with PLAIN sends the Kafka password in the clear: prefer SASL_SSL or SCRAM")
    answer = await kafka_preflight.check(config)
    for broker in answer.unreachable:
        log.warning("Kafka broker %s does not answer", broker)


async def _database(url: str, setting: str) -> None:
    unreachable = await database_preflight.check(url, setting)
    if unreachable is not None:
        log.warning("%s: %s", setting, unreachable)
