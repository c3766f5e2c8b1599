"""`candleflow stack up|down|status|run`.

`up` prints only `export` lines on stdout (progress goes to stderr), so that
`eval "$(candleflow stack up)"` configures the calling shell.
"""

from __future__ import annotations

import shlex

import click

from candleflow.core import command
from candleflow.core.settings import Settings
from candleflow.stack.stack import Stack


def _stack(settings: Settings) -> Stack:
    return Stack(settings.stack_dir, settings.stack_kafka_port, settings.stack_pg_port)


@click.group()
def stack() -> None:
    """Local Kafka (KRaft) + PostgreSQL for development, tests and benchmarks."""


@stack.command()
def up() -> None:
    """Start the stack (if needed) and print `export` lines: eval "$(candleflow stack up)"."""

    def main(run: command.Invocation) -> None:
        info = _stack(run.settings).up()
        for name, value in info.env().items():
            click.echo(f"export {name}={shlex.quote(value)}")

    command.run(main, name="candleflow stack up")


@stack.command()
def down() -> None:
    """Stop Kafka and PostgreSQL; no process of the stack is left."""

    def main(run: command.Invocation) -> None:
        target = _stack(run.settings)
        target.down()
        click.echo(f"stack in {target.stack_dir} stopped", err=True)

    command.run(main, name="candleflow stack down")


@stack.command()
def status() -> None:
    """Say what runs where."""
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
