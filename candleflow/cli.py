"""The `candleflow` command. Each subcommand group lives beside the layer it drives
and is imported only when used, so `candleflow stack up` never imports Faust. Every
subcommand runs through `candleflow.core.command` (settings, logging, signals, exit
codes); the worker runs under Faust's own signal handling and logging."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from candleflow.core.command import exit_code
from candleflow.domain.exceptions import CandleflowError

COMMANDS: dict[str, tuple[str, str]] = {
    "worker": ("candleflow.worker_cli", "worker"),
    "web": ("candleflow.web_cli", "web"),
    "stack": ("candleflow.stack.cli", "stack"),
    "db": ("candleflow.maintenance.cli", "db"),
    "ingest": ("candleflow.sources.cli", "ingest"),
    "replay": ("candleflow.maintenance.rebuild.cli", "replay"),
    "backfill": ("candleflow.maintenance.backfill.cli", "backfill"),
    "token": ("candleflow.access.cli", "token"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module = importlib.import_module(target[0])
        command: click.Command = getattr(module, target[1])
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="candleflow")
def cli() -> None:
    """candleflow: CryptoCompare ticks -> Kafka -> Faust bars -> PostgreSQL -> TradingView UDF/SSE."""


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, prog_name="candleflow", standalone_mode=True)
    except CandleflowError as exc:  # raised while a command's options were read
        click.echo(f"candleflow: {exc}", err=True)
        sys.exit(exit_code(exc))
