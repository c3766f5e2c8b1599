"""A wrong configuration is the first thing every entry point says, before anything starts.

`make run` (`candleflow stack run`) used to start Kafka and PostgreSQL (13-17 s) before
the worker found out that `CANDLEFLOW_FUNCTIONS` named something wrong; a duplicate
function was taken silently. Each command here is run as a user runs it, with the
broker address pointing nowhere and a fresh stack directory: the message must be the
first line of its output, the exit status 2, and the stack directory untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]

MISTAKES = [
    ("rsi(period=-1)", "CANDLEFLOW_FUNCTIONS: rsi: period=-1 is below its minimum 2"),
    ("nowhere.indicators:Thing", "CANDLEFLOW_FUNCTIONS: cannot import 'nowhere.indicators'"),
    ("rsi(period=14", "CANDLEFLOW_FUNCTIONS: unbalanced '(' in 'rsi(period=14'"),
    ("rsi(period=14),rsi(period=14)", "CANDLEFLOW_FUNCTIONS lists rsi(period=14) twice"),
]
COMMANDS = {
    "candleflow stack run": [str(BIN / "candleflow"), "stack", "run"],
    "python -m candleflow.stack.run (make run)": [sys.executable, "-m", "candleflow.stack.run"],
    "candleflow worker": [str(BIN / "candleflow"), "worker"],
    "faust -A candleflow.app worker": [str(BIN / "faust"), "-A", "candleflow.app", "worker"],
}


def run(command: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CANDLEFLOW_")}
    clean.update(
        CANDLEFLOW_STACK_DIR=str(tmp_path / "stack"),
        CANDLEFLOW_KAFKA_BOOTSTRAP="127.0.0.1:9",  # nothing listens: nothing may be tried
        CANDLEFLOW_DATABASE_URL="postgresql://nobody@127.0.0.1:9/none",
        CANDLEFLOW_WEB_PORT="0",
        **env,
    )
    return subprocess.run(
        command,
        env=clean,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("command", COMMANDS.values(), ids=list(COMMANDS))
@pytest.mark.parametrize(("functions", "message"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_wrong_function_is_the_first_line_and_nothing_starts(
    command: list[str], functions: str, message: str, tmp_path: Path
) -> None:
    done = run(command, tmp_path, CANDLEFLOW_FUNCTIONS=functions)
    output = (done.stderr + done.stdout).strip().splitlines()
    assert done.returncode == 2, output
    assert output and output[0].startswith(f"candleflow: {message}"), output[:3]
    assert not (tmp_path / "stack").exists(), "the stack was started before the configuration was checked"


def test_every_malformed_setting_is_named_in_the_first_line(tmp_path: Path) -> None:
    done = run(COMMANDS["candleflow stack run"], tmp_path, CANDLEFLOW_SYNTHETIC_RATE="fast", CANDLEFLOW_SOURCE="demo")
    first = done.stderr.splitlines()[0]
    assert done.returncode == 2
    assert first.startswith("candleflow: 2 settings need fixing: ")
    assert "CANDLEFLOW_SOURCE='demo'" in first and "CANDLEFLOW_SYNTHETIC_RATE='fast'" in first
    assert not (tmp_path / "stack").exists()


def test_make_run_checks_before_it_builds_the_chart() -> None:
    """The Makefile's run recipe checks first (the chart build prints before anything else)."""
    recipe = ROOT.joinpath("Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    steps = [line.strip() for line in recipe.splitlines()[1:]]
    assert steps[0] == "@$(BIN)/python -m candleflow.stack.run --check", steps
    assert any("frontend" in step for step in steps[1:])
