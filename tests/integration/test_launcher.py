"""`make run` as a newcomer meets it: the URL comes once the chart shows what the log
holds, and the terminal says nothing a user must learn to ignore.

* A worker restarted on a backlog used to be announced at once ("the demo chart is full
  after 0 s") while its engine still had thousands of ticks to absorb and indicators
  answered `no_data`: the launcher now waits until the engine's ledger reaches the log's
  end (`wait_caught_up`), and says so.
* On a fresh clone, every start printed TimescaleDB's DETAIL/HINT block three times, a
  GroupCoordinatorNotAvailableError at ERROR and "Timer commit woke up too late": the
  launcher, run on a stack of its own exactly as `make run` runs it, must log no ERROR,
  none of those, and no warning twice.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from candleflow.kafka.config import KafkaConfig
from candleflow.stack import Stack, StackInfo
from candleflow.stack.ports import free_port
from candleflow.stack.run import wait_caught_up
from tests.harness import Names, WorkerFactory, create_topics, jar_cache, temporary_stack_dir
from tests.harness.engine import highwaters, ledger, publish
from tests.harness.tickgen import generate

pytestmark = pytest.mark.integration

BACKLOG = 40_000
#: Generous bounds: they exist to fail instead of hanging, not to measure speed.
LAUNCH_TIMEOUT_S = 400.0
STOP_TIMEOUT_S = 120.0


async def test_the_url_waits_until_the_engine_has_absorbed_the_backlog(
    stack: StackInfo, database_url: str, names: Names, worker_factory: WorkerFactory
) -> None:
    """A worker starting on a backlog: the wait ends only once the ledger holds the log's
    end, and reports how much was left when it began."""
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2})
    await publish(stack.kafka_bootstrap, names.ticks_topic, generate(BACKLOG, days=2.0, seed=41))
    ends = await highwaters(stack.kafka_bootstrap, names.ticks_topic)
    assert sum(ends.values()) == BACKLOG

    worker = worker_factory.start(names.env(stack, database_url, ticks_partitions=2))
    assert worker.process is not None
    caught = await wait_caught_up(
        KafkaConfig(stack.kafka_bootstrap),
        database_url,
        names.app_id,
        names.ticks_topic,
        worker.process,
        LAUNCH_TIMEOUT_S,
    )

    assert caught is not None, "the engine never reached the log's end"
    done = await ledger(database_url, names.app_id, names.ticks_topic)
    assert all(done.get(p, 0) >= end for p, end in ends.items()), f"announced at {done}, the log ends at {ends}"
    assert caught.records == BACKLOG
    assert 0 < caught.behind <= BACKLOG, "the wait began before the engine had absorbed the backlog"


def _normalised(line: str) -> str:
    """A log line without its time stamp and process id, so repeats can be counted."""
    return re.sub(r"^\[[^]]*\] \[\d+\] ", "", line).strip()


def _launch(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`make run`'s launcher in the background, both streams into `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "candleflow.stack.run"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


async def test_a_fresh_make_run_logs_no_error_and_says_each_thing_once(tmp_path: Path) -> None:
    stack_dir = temporary_stack_dir("candleflow-launcher-")
    (stack_dir / "kafka").mkdir()
    (stack_dir / "kafka" / "libs").symlink_to(jar_cache())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDLEFLOW_")}
    env.update(
        PYTHONUNBUFFERED="1",
        CANDLEFLOW_STACK_DIR=str(stack_dir),
        CANDLEFLOW_WEB_HOST="127.0.0.1",
        CANDLEFLOW_WEB_PORT=str(free_port()),
    )
    log = tmp_path / "make-run.log"
    launcher = _launch(env, log)
    try:
        deadline = time.monotonic() + LAUNCH_TIMEOUT_S
        while "candleflow run: Chart: http://" not in log.read_text(errors="replace"):
            assert launcher.poll() is None, f"make run's launcher exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no URL within {LAUNCH_TIMEOUT_S:.0f} s:\n{log.read_text()[-3000:]}"
            await asyncio.sleep(0.5)
        code = await asyncio.to_thread(_stop, launcher)
    finally:
        if launcher.poll() is None:
            await asyncio.to_thread(_stop, launcher)
        Stack(stack_dir, quiet=True).down()  # whatever the launcher left running
        shutil.rmtree(stack_dir, ignore_errors=True)

    text = log.read_text(errors="replace")
    lines = text.splitlines()
    assert code == 0, text[-3000:]
    said = [line for line in lines if line.startswith("candleflow run:")]
    announced = [i for i, line in enumerate(said) if "absorbed ticks.raw up to its end" in line]
    assert announced and said[announced[0] + 1].startswith("candleflow run: Chart: http://"), said

    assert not [line for line in lines if re.search(r"\bERROR\b|Traceback", line)], "an ERROR at the default level"
    assert not [line for line in lines if line.startswith(("DETAIL:", "HINT:"))], "TimescaleDB's DETAIL/HINT block"
    for routine in ("woke up too", "GroupCoordinatorNotAvailable", "Marking the coordinator dead", "NotLeaderFor"):
        assert routine not in text, f"{routine!r} at the default level"
    warnings = Counter(_normalised(line) for line in lines if re.search(r"\bWARNING\b", line))
    assert not [line for line, n in warnings.items() if n > 1], f"warnings said more than once: {warnings}"
    timescale = [line for line in lines if "timescaledb" in line.lower()]
    assert len({_normalised(line) for line in timescale}) == len(timescale), timescale
