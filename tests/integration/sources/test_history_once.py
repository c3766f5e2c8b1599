"""History is laid down once: `make run`'s launcher, `candleflow ingest synthetic` and the
compose file's ingest command, each started three times on the same stack, leave a log
of ONE synthetic history plus live ticks, and bars equal to the reference of that log.

The history a fresh topic gets is known exactly (the seeded walk, stamped over the
window): the log's ticks with its trade ids must be it, every other tick must be stamped
after the first start (a second history lies in the past), and no trade appears twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from candleflow.domain.ticks import Tick, parse_tick
from candleflow.sources.history import past_ticks
from candleflow.sources.synthetic import SyntheticFeed
from candleflow.stack import StackInfo
from candleflow.stack.ports import free_port
from candleflow.stack.run import DEMO_HISTORY_HOURS
from tests.harness import Names, consume_all
from tests.harness.engine import highwaters, ledger, stored_bars, wait_absorbed
from tests.harness.reference import LogTick, reference_bars
from tests.harness.waiting import eventually
from tests.harness.worker import candleflow_executable

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
RATE = 20.0
SEED = 5
STARTS = 3
#: Live ticks each start must add before it is stopped.
LIVE_PER_START = 30
HOUR_MS = 3_600_000


def unique_symbols() -> tuple[str, ...]:
    """Symbols of this test alone: the launcher writes to the stack's shared database."""
    tag = f"H{uuid.uuid4().hex[:8]}"
    return (f"{tag}:BTC/USD", f"{tag}:ETH/USD")


def one_history(symbols: tuple[str, ...], hours: float) -> list[Tick]:
    """The history a fresh topic gets, stamped from 0 (the log's is shifted by its start)."""
    feed = SyntheticFeed(symbols, rate=RATE, seed=SEED)
    return list(past_ticks(feed.trades(), feed, start_ms=0, end_ms=int(hours * HOUR_MS)))


async def logged(stack: StackInfo, topic: str) -> list[Tick]:
    return [parse_tick(value) for _, value, _, _ in await consume_all(stack.kafka_bootstrap, topic, timeout=60)]


def assert_one_history_plus_live(ticks: list[Tick], history: list[Tick], first_start_ms: int) -> None:
    keys = [(t.symbol, t.id) for t in ticks]
    assert len(keys) == len(set(keys)), "a trade is in the log twice"
    last_id = {t.symbol: int(t.id or 0) for t in history}
    past = sorted((t for t in ticks if int(t.id or 0) <= last_id[t.symbol]), key=lambda t: (t.symbol, int(t.id or 0)))
    expected = sorted(history, key=lambda t: (t.symbol, int(t.id or 0)))
    assert [(t.symbol, t.id, t.price, t.qty, t.side) for t in past] == [
        (t.symbol, t.id, t.price, t.qty, t.side) for t in expected
    ], "the log's history is not the one history a fresh topic gets"
    shifts = {got.ts - want.ts for got, want in zip(past, expected, strict=True)}
    assert max(shifts) - min(shifts) <= 2, "the history is not one window stamped in one go (float stamps: +-1 ms)"
    live = [t for t in ticks if int(t.id or 0) > last_id[t.symbol]]
    early = [t for t in live if t.ts < first_start_ms]
    assert not early, f"{len(early)} ticks after the history are stamped before the first start: a second history"
    assert len(live) >= STARTS * LIVE_PER_START


async def wait_records(stack: StackInfo, topic: str, count: int, process: subprocess.Popen[bytes]) -> None:
    async def enough() -> bool:
        assert process.poll() is None, f"exited early with {process.returncode}"
        return sum((await highwaters(stack.kafka_bootstrap, topic)).values()) >= count

    await eventually(enough, 180, interval=0.5, what=f"{count} records in {topic}")


async def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGINT) -> int:
    process.send_signal(sig)
    return await asyncio.to_thread(process.wait, 90)


async def records(stack: StackInfo, topic: str) -> int:
    return sum((await highwaters(stack.kafka_bootstrap, topic, wait=False)).values())


def launch(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `command` in the background, its output (both streams) appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def clean_env(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDLEFLOW_")}
    return {**env, "PYTHONUNBUFFERED": "1", **variables}


async def test_make_run_started_three_times_lays_down_one_history(
    stack: StackInfo, names: Names, tmp_path: Path
) -> None:
    symbols = unique_symbols()
    env = clean_env(
        CANDLEFLOW_STACK_DIR=str(stack.stack_dir),
        CANDLEFLOW_APP_ID=names.app_id,
        CANDLEFLOW_TICKS_TOPIC=names.ticks_topic,
        CANDLEFLOW_DEAD_TOPIC=names.dead_topic,
        CANDLEFLOW_UPDATES_TOPIC=names.updates_topic,
        CANDLEFLOW_TICKS_PARTITIONS="2",
        CANDLEFLOW_WEB_HOST="127.0.0.1",
        CANDLEFLOW_WEB_PORT=str(free_port()),
        CANDLEFLOW_SYNTHETIC_SYMBOLS=",".join(symbols),
        CANDLEFLOW_SYNTHETIC_RATE=str(RATE),
        CANDLEFLOW_SYNTHETIC_SEED=str(SEED),
    )
    first_start_ms = int(time.time() * 1000)
    history = one_history(symbols, DEMO_HISTORY_HOURS)
    for start in range(STARTS):
        before = await records(stack, names.ticks_topic)
        log = tmp_path / f"run-{start}.log"
        launcher = launch([sys.executable, "-m", "candleflow.stack.run"], env, log)
        try:
            wanted = before + LIVE_PER_START + (len(history) if start == 0 else 0)
            await wait_records(stack, names.ticks_topic, wanted, launcher)
            if start == STARTS - 1:  # the last run's engine catches up before it stops
                await wait_absorbed(stack.database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
        finally:
            code = await stop(launcher)
        assert code == 0, log.read_text()[-3000:]
    assert_one_history_plus_live(await logged(stack, names.ticks_topic), history, first_start_ms)

    # The bars the last run's worker left are the reference of the log up to its ledger
    # (bars and ledger are written in one transaction), and that prefix holds the history.
    absorbed = await ledger(stack.database_url, names.app_id, names.ticks_topic)
    kept = await consume_all(stack.kafka_bootstrap, names.ticks_topic, timeout=60)
    ticks = [
        LogTick(t.symbol, t.ts, t.price, t.qty, offset)
        for t, partition, offset in ((parse_tick(value), partition, offset) for _, value, partition, offset in kept)
        if offset < absorbed.get(partition, 0)
    ]
    assert len(ticks) >= len(history) + STARTS * LIVE_PER_START // 2, "the worker never absorbed the history"
    expected = reference_bars(ticks)
    stored = {key: bar for key, bar in (await stored_bars(stack.database_url)).items() if key[0] in symbols}
    wrong = sorted(k for k in expected.keys() | stored.keys() if expected.get(k) != stored.get(k))
    assert not wrong, f"{len(wrong)} bars differ from the reference, e.g. {wrong[:3]}"


def compose_ingest() -> tuple[list[str], dict[str, str]]:
    """The compose file's ingest command (defaults filled in) and its own variables."""
    service = yaml.safe_load((REPO / "docker" / "compose.yml").read_text())["services"]["ingest"]
    command = [part.replace("${CANDLEFLOW_INGEST:-synthetic}", "synthetic") for part in service["command"]]
    variables = {k: str(v) for k, v in service["environment"].items() if k == "CANDLEFLOW_SYNTHETIC_HISTORY"}
    return command, variables


async def test_the_ingest_commands_started_three_times_lay_down_one_history(
    stack: StackInfo, names: Names, tmp_path: Path
) -> None:
    command, compose_env = compose_ingest()
    assert command[:3] == ["candleflow", "ingest", "synthetic"]
    hours = float(compose_env["CANDLEFLOW_SYNTHETIC_HISTORY"])
    symbols = unique_symbols()
    env = clean_env(
        **names.env(stack, stack.database_url),
        **compose_env,
        CANDLEFLOW_TICKS_PARTITIONS="2",
        CANDLEFLOW_SYNTHETIC_SYMBOLS=",".join(symbols),
        CANDLEFLOW_SYNTHETIC_RATE=str(RATE),
        CANDLEFLOW_SYNTHETIC_SEED=str(SEED),
    )
    history = one_history(symbols, hours)
    first_start_ms = int(time.time() * 1000)
    # Once as the compose file runs it (until stopped), then twice by hand with a count.
    log = tmp_path / "compose-ingest.log"
    compose = launch([candleflow_executable(), *command[1:]], env, log)
    try:
        await wait_records(stack, names.ticks_topic, len(history) + LIVE_PER_START, compose)
    finally:
        code = await stop(compose, signal.SIGTERM)
    assert code == 0, log.read_text()[-3000:]
    for _ in range(STARTS - 1):
        done = await asyncio.to_thread(
            subprocess.run,
            [candleflow_executable(), "ingest", "synthetic", "--count", str(LIVE_PER_START)],
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert_one_history_plus_live(await logged(stack, names.ticks_topic), history, first_start_ms)
