"""`candleflow stack up|down|status|run`.

`up` prints only `export` lines on stdout (progress goes to stderr), so that
`eval "$(candleflow stack up)"` configures the calling shell. Its options ask for a
secured broker, TLS on PostgreSQL and a read replica; the stack directory remembers
them, so a later `up` without options brings back the same stack.
"""

from __future__ import annotations

import shlex

import click

from candleflow.core import command
from candleflow.core.settings import Settings, variable
from candleflow.stack.kafka_security import CLIENT_AUTH, MECHANISMS, KafkaSecurity
from candleflow.stack.stack import Stack


def _stack(
    settings: Settings,
    kafka_security: KafkaSecurity | None = None,
    pg_tls: bool | None = None,
    replica: bool | None = None,
) -> Stack:
    return Stack(
        settings.stack_dir,
        settings.stack_kafka_port,
        settings.stack_pg_port,
        kafka_security=kafka_security,
        pg_tls=pg_tls,
        replica=replica,
    )


def _security(
    settings: Settings, protocols: str | None, mechanism: str | None, client_auth: str | None
) -> KafkaSecurity | None:
    """The broker's security as asked on the command line, the rest as the stack had it."""
    if protocols is None and mechanism is None and client_auth is None:
        return None
    before = _stack(settings).configured_security()
    chosen = KafkaSecurity.parse(protocols) if protocols is not None else before
    return KafkaSecurity(
        chosen.protocols, (mechanism or before.mechanism).upper(), (client_auth or before.client_auth).lower()
    )


@click.group()
def stack() -> None:
    """Local Kafka (KRaft) + PostgreSQL for development, tests and benchmarks."""


@stack.command()
@click.option(
    "--kafka-security",
    "protocols",
    metavar="PROTOCOLS",
    help="Secured broker listeners: ssl, sasl_ssl, sasl_plaintext, comma-separated for several "
    "(the first is exported); plaintext for none (the default of a new stack).",
)
@click.option(
    "--sasl-mechanism",
    type=click.Choice(MECHANISMS, case_sensitive=False),
    help="SASL mechanism the exports name (the broker accepts all three). Default SCRAM-SHA-512.",
)
@click.option(
    "--kafka-client-auth",
    type=click.Choice(CLIENT_AUTH, case_sensitive=False),
    help="Whether the ssl listener asks for client certificates. Default none.",
)
@click.option("--pg-tls/--no-pg-tls", default=None, help="PostgreSQL with TLS (verify-full with the stack's CA).")
@click.option("--pg-replica/--no-pg-replica", default=None, help="A streaming read replica of PostgreSQL.")
def up(
    protocols: str | None,
    sasl_mechanism: str | None,
    kafka_client_auth: str | None,
    pg_tls: bool | None,
    pg_replica: bool | None,
) -> None:
    """Start the stack (if needed) and print `export` lines: eval "$(candleflow stack up)".

    Options not given keep what the stack directory was last brought up with; a service
    whose configuration changes is restarted. Certificates and passwords are generated
    into the stack directory.
    """

    def main(run: command.Invocation) -> None:
        security = _security(run.settings, protocols, sasl_mechanism, kafka_client_auth)
        info = _stack(run.settings, security, pg_tls, pg_replica).up()
        exports = info.env()
        if info.replica_url is not None:  # reads of the charts from the replica (docs/deployment.md)
            exports[variable("database_read_url")] = info.replica_url
        for name, value in exports.items():
            click.echo(f"export {name}={shlex.quote(value)}")

    command.run(main, name="candleflow stack up")


@stack.command()
def down() -> None:
    """Stop Kafka, PostgreSQL and its replica; no process of the stack is left."""

    def main(run: command.Invocation) -> None:
        target = _stack(run.settings)
        target.down()
        click.echo(f"stack in {target.stack_dir} stopped", err=True)

    command.run(main, name="candleflow stack down")


@stack.command()
def status() -> None:
    """Say what runs where (and how far the replica trails the primary)."""
    command.run(lambda run: click.echo(_stack(run.settings).status()), name="candleflow stack status")


@stack.command("run")
def run_all() -> None:
    """What `make run` runs: the stack, migrations, a worker with the demo feed and the chart
    on :6066, until Ctrl-C (the configuration is checked before anything starts).

    `make run` is a supervisor of child processes with its own signal handling (a first
    Ctrl-C stops the worker and the services it started, in order): it keeps its own exit
    codes, the same table (`candleflow.core.command.EXIT_CODES`)."""
    from candleflow.stack import run

    raise SystemExit(run.main([]))
