"""Every command runs the same way: settings, exit codes by kind of error, signals."""

from __future__ import annotations

import ast
import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from candleflow.cli import COMMANDS
from candleflow.core import command
from candleflow.core.settings import Settings
from candleflow.domain.exceptions import CandleflowError, ConfigError, InvalidSymbol
from candleflow.kafka.exceptions import LogUnavailable
from candleflow.sources.exceptions import BrokerUnavailable, PublishError
from candleflow.store.connection import DatabaseUnavailable

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError("CANDLEFLOW_X is bad"), 2),
        (DatabaseUnavailable("cannot reach PostgreSQL"), 3),
        (LogUnavailable("cannot reach Kafka"), 3),
        (BrokerUnavailable("cannot reach Kafka"), 3),
        (PublishError("3 records lost"), 1),
        (InvalidSymbol("no exchange"), 1),
        (CandleflowError("anything else"), 1),
    ],
)
def test_each_kind_of_error_has_its_exit_code(
    error: CandleflowError, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    async def main(_: command.Invocation) -> None:
        raise error

    assert command.outcome(main, name="candleflow test") == code
    assert capsys.readouterr().err == f"candleflow test: {error}\n", "the message, never a traceback"


def test_a_command_returns_its_code_and_a_bad_setting_is_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert command.outcome(lambda run: None) == 0
    assert command.outcome(lambda run: 1) == 1
    monkeypatch.setenv("CANDLEFLOW_WEB_PORT", "http")
    assert command.outcome(lambda run: 0, name="candleflow x") == 2
    assert "candleflow x: CANDLEFLOW_WEB_PORT='http' is not valid" in capsys.readouterr().err


SIGNALLED = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from candleflow.core import command

    graceful = sys.argv[1] == "graceful"

    async def main(run):
        os.kill(os.getpid(), signal.SIGINT)
        if graceful:
            await run.stop.wait()
            print("flushed", flush=True)
            return 0
        await asyncio.sleep(60)

    command.run(main, graceful=graceful, interrupted="stopped: run it again", name="probe")
    """
)


@pytest.mark.parametrize(
    ("mode", "code", "out", "err"),
    [("graceful", 0, "flushed\n", ""), ("at-once", 130, "", "probe: stopped: run it again")],
)
def test_ctrl_c_stops_a_graceful_command_and_cancels_any_other(mode: str, code: int, out: str, err: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDLEFLOW_")}
    done = subprocess.run(
        [sys.executable, "-c", SIGNALLED, mode], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (code, out), done.stderr
    assert err in done.stderr


async def test_a_second_signal_cancels_even_a_graceful_command() -> None:
    async def main(run: command.Invocation) -> None:
        await asyncio.sleep(60)

    task = asyncio.ensure_future(main(command.Invocation(Settings())))
    stop = asyncio.Event()
    command._on_signal(task, stop, graceful=True)
    assert stop.is_set() and not task.cancelled()
    command._on_signal(task, stop, graceful=True)
    with pytest.raises(asyncio.CancelledError):
        await task


def test_the_readme_documents_the_exit_codes() -> None:
    readme = (ROOT / "README.md").read_text()
    for code, meaning in command.EXIT_CODES:
        assert f"| {code} | {meaning} |" in readme


def test_every_subcommand_runs_through_the_runner() -> None:
    """Each command function of every `candleflow` subcommand module but the Faust worker
    hands its work to `candleflow.core.command.run`, itself or through a helper of its
    module that does. `candleflow stack run` (what `make run` runs) is the one exception: a
    supervisor of child processes with its own two-stage Ctrl-C, it keeps the runner's exit
    code table without the runner."""
    supervisors = {("candleflow.stack.cli", "run_all")}
    for name, (module, _) in COMMANDS.items():
        if name == "worker":
            continue
        tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
        functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]

        def calls(function: ast.FunctionDef) -> set[str]:
            return {ast.unparse(n.func) for n in ast.walk(function) if isinstance(n, ast.Call)}

        runners = {"command.run"} | {f.name for f in functions if "command.run" in calls(f)}
        commands = [
            f
            for f in functions
            if any("command" in ast.unparse(d) and "group" not in ast.unparse(d) for d in f.decorator_list)
        ]
        assert commands, module
        for function in commands:
            if (module, function.name) in supervisors:
                continue
            assert calls(function) & runners, f"{module}.{function.name} does not use the command runner"
