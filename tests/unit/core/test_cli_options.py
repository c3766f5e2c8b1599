"""The option types of the maintenance commands, through click's own parsing."""

from __future__ import annotations

import click
from click.testing import CliRunner

from candleflow.core.cli_options import INSTANT, INSTANT_OR_EARLIEST, SYMBOLS

NOW = 1_732_406_400_000  # 2024-11-24T00:00:00Z


@click.command()
@click.option("--at", type=INSTANT)
@click.option("--since", type=INSTANT_OR_EARLIEST, default="earliest")
@click.option("--symbols", type=SYMBOLS)
def show(at: int | None, since: int | None, symbols: tuple[str, ...] | None) -> None:
    click.echo(repr((at, since, symbols)))


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(show, list(args))


def test_instants_and_symbol_lists_parse_to_values() -> None:
    result = run("--at", "2024-11-24", "--symbols", "Coinbase:BTC/USD, Kraken:SOL/USD,Coinbase:BTC/USD")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == repr((NOW, None, ("Coinbase:BTC/USD", "Kraken:SOL/USD")))
    assert run("--since", str(NOW)).output.strip() == repr((None, NOW, None))


def test_bad_values_are_usage_errors_that_say_what_to_give() -> None:
    seconds = run("--at", str(NOW // 1000))
    assert seconds.exit_code == 2 and "seconds?" in seconds.output and "--at" in seconds.output
    assert run("--at", "earliest").exit_code == 2
    symbols = run("--symbols", "BTCUSD")
    assert symbols.exit_code == 2 and "Exchange:BASE/QUOTE" in symbols.output
    assert "at least one symbol" in run("--symbols", " , ").output
