"""`candleflow stack up|down|status|run`.

`up` prints only `export` lines on stdout (progress goes to stderr), so that
`eval "$(candleflow stack up)"` configures the calling shell.
"""

from __future__ import annotations

import shlex

import click

from candleflow.core.settings import Settings
from candleflow.stack.stack import Stack


def _stack() -> Stack:
    settings = Settings.from_env()
    return Stack(settings.stack_dir, settings.stack_kafka_port, settings.stack_pg_port)


@click.group()
def stack() -> None:
    """Local Kafka (KRaft) + PostgreSQL for development, tests and benchmarks."""


@stack.command()
def up() -> None:
    """Start the stack (if needed) and print `export` lines: eval "$(candleflow stack up)"."""
    info = _stack().up()
    for name, value in info.env().items():
        click.echo(f"export {name}={shlex.quote(value)}")


@stack.command()
def down() -> None:
    """Stop Kafka and PostgreSQL; no process of the stack is left."""
    target = _stack()
    target.down()
    click.echo(f"stack in {target.stack_dir} stopped", err=True)


@stack.command()
def status() -> None:
    """Say what runs where."""
    click.echo(_stack().status())


@stack.command("run")
def run_all() -> None:
    """What `make run` runs: the stack, migrations, a worker with the demo feed and the chart
    on :6066, until Ctrl-C (the configuration is checked before anything starts)."""
    from candleflow.stack import run

    raise SystemExit(run.main([]))
