"""`make run` (`candleflow stack run`): the whole pipeline in one terminal.

Checks the configuration first (every setting, every function of
`CANDLEFLOW_FUNCTIONS`, the chart's port), so a mistake is the first line of output,
before anything starts. Then brings the stack up, migrates the database, runs
`candleflow worker` in the foreground with a demo feed (synthetic, CryptoCompare when
an API key is set, or the `CANDLEFLOW_SOURCE` you give, e.g. `binance:BTC/USDT`) on
port 6066, and on Ctrl-C (or SIGTERM/SIGHUP) stops the worker and every service it
started itself. A stack that was already running before is left running. The synthetic
demo starts with two days of past ticks on an empty topic (`candleflow.sources.history`).

The chart's URL is printed once it shows what the log holds: the first chart is full,
and the engine has absorbed the ticks log up to its end (a restarted worker may have a
backlog to work through first; until then its indicators answer `no_data`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from candleflow.core.logs import configure
from candleflow.core.settings import CC_KEY, SOURCE, SYNTH_HISTORY, WEB_PORT, Settings
from candleflow.domain.exceptions import CandleflowError, ConfigError
from candleflow.functions.registry import from_settings
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.exceptions import LogUnavailable
from candleflow.kafka.log_reader import LogReader
from candleflow.maintenance.verify import engine_lag
from candleflow.stack import aio, procs
from candleflow.stack.ports import is_free
from candleflow.stack.stack import Stack, StackInfo

WORKER_STOP_TIMEOUT = 30.0
#: Past synthetic ticks a fresh demo lays down first, so the first chart has history.
DEMO_HISTORY_HOURS = 48
#: The URL is printed once the default chart holds this many one-minute bars, the last
#: within this many seconds (or after the timeout, with a note).
FIRST_CHART_BARS = 300
FIRST_CHART_RECENT_S = 600
FIRST_CHART_TIMEOUT = 120.0
#: How long the URL waits for the engine to absorb the log up to its end, checked this often.
CATCH_UP_TIMEOUT = 300.0
CATCH_UP_POLL_S = 0.5


def _say(message: str) -> None:
    print(f"candleflow run: {message}", file=sys.stderr, flush=True)


class _Stop(Exception):
    """A stop signal arrived."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def worker_env(info: StackInfo) -> dict[str, str]:
    """Our environment plus the stack's, a demo feed and the chart's port."""
    env = {**os.environ, **info.env()}
    if SOURCE not in env:
        env[SOURCE] = "cryptocompare" if env.get(CC_KEY) else "synthetic"
    env.setdefault(WEB_PORT, "6066")
    env.setdefault(SYNTH_HISTORY, str(DEMO_HISTORY_HOURS))
    return env


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    """True once `url` answers with any HTTP status; False if the worker died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.5)
    return False


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def first_chart_ready(base: str, now: float) -> bool:
    """True when the chart `/` opens on (the first symbol the server lists, one-minute
    bars) reaches the last few minutes and holds `FIRST_CHART_BARS` bars, or all the
    log has to give (the engine has no lag: a topic without demo history)."""
    try:
        listed = _get_json(f"{base}/udf/search?query=&limit=1")
        if not listed:
            return False
        symbol = urllib.parse.quote(listed[0]["ticker"])
        since, until = int(now) - 7 * 86400, int(now) + 60
        history = _get_json(
            f"{base}/udf/history?symbol={symbol}&resolution=1&from={since}&to={until}&countback={FIRST_CHART_BARS}"
        )
        times = history.get("t") or []
        if not times or times[-1] < now - FIRST_CHART_RECENT_S:
            return False
        return len(times) >= FIRST_CHART_BARS or _get_json(f"{base}/healthz")["engine"]["total"] == 0
    except (OSError, ValueError, KeyError, TypeError):
        return False


def wait_first_chart(base: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Until the default chart is full (see `first_chart_ready`), the worker died, or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if first_chart_ready(base, time.time()):
            return True
        time.sleep(1.0)
    return False


@dataclass(frozen=True)
class CaughtUp:
    """The engine absorbed the ticks log up to its end, `records` in all: `behind` of them
    were left when the wait began, `seconds` it took."""

    records: int
    behind: int
    seconds: float


async def wait_caught_up(
    kafka: KafkaConfig, database_url: str, app_id: str, topic: str, process: subprocess.Popen[bytes], within: float
) -> CaughtUp | None:
    """Until the engine's ledger (the next offset it expects, per partition) reaches the end
    the log had at the previous check; None if the worker died or time ran out.

    "The end at the previous check" keeps a live feed from moving the goal: an engine that
    keeps up has absorbed, half a second later, everything that was there half a second ago."""
    started = time.monotonic()
    deadline = started + within
    behind: int | None = None
    previous: dict[int, int] | None = None
    while time.monotonic() < deadline and process.poll() is None:
        try:
            async with LogReader(kafka, topic) as reader:
                while time.monotonic() < deadline and process.poll() is None:
                    _, ends = await reader.bounds()
                    if previous is not None:
                        left = await engine_lag(database_url, app_id, topic, previous)
                        behind = sum(left.values()) if behind is None else behind
                        if not left:
                            return CaughtUp(sum(previous.values()), behind, time.monotonic() - started)
                    previous = ends
                    await asyncio.sleep(CATCH_UP_POLL_S)
        except LogUnavailable:  # the worker has not created the topic yet
            await asyncio.sleep(CATCH_UP_POLL_S)
    return None


def announce_when_ready(env: dict[str, str], info: StackInfo, base: str, worker: subprocess.Popen[bytes]) -> None:
    """Wait for the first chart (a feed that lays down history: synthetic, an exchange) and
    for the engine to reach the log's end, saying what was waited for; the caller prints
    the URL afterwards."""
    if env[SOURCE] not in ("none", "cryptocompare"):
        _say("waiting for the first chart (history through Kafka into the engine)")
        waited = time.monotonic()
        if wait_first_chart(base, worker, FIRST_CHART_TIMEOUT):
            took = time.monotonic() - waited
            _say(f"the chart holds its first {FIRST_CHART_BARS} one-minute bars after {took:.0f} s")
        else:
            _say("the chart is still filling: it will complete while you watch")
    settings = Settings.from_env(env)
    _say(f"waiting for the engine to absorb {settings.ticks_topic} up to its end")
    caught = aio.run(
        lambda: wait_caught_up(
            KafkaConfig.from_settings(settings),
            info.database_url,
            settings.app_id,
            settings.ticks_topic,
            worker,
            CATCH_UP_TIMEOUT,
        )
    )
    if caught is None:
        _say(f"the engine is still working through {settings.ticks_topic}: charts and indicators fill in as it does")
    else:
        caught_up = f"{caught.behind:,} of them caught up in {caught.seconds:.0f} s" if caught.behind else "no backlog"
        _say(f"the engine has absorbed {settings.ticks_topic} up to its end: {caught.records:,} ticks, {caught_up}")


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the worker's group, SIGKILL it after a grace period or a second Ctrl-C."""
    if process.poll() is None:
        _say("stopping the worker (Ctrl-C again to kill it)")
        procs.signal_group(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired, _Stop):
            process.wait(WORKER_STOP_TIMEOUT)
    procs.signal_group(process.pid, signal.SIGKILL)
    process.wait()


def check(settings: Settings) -> None:
    """What must hold before anything starts: every function of `CANDLEFLOW_FUNCTIONS`
    resolves (modules import, parameters in range, none twice) and the chart's port is
    free. (Every setting was read already: `Settings.from_env` names what is malformed.)"""
    from_settings(settings)
    port = settings.web_port
    if not is_free(port):
        raise ConfigError(f"port {port} busy: stop what listens there or set {WEB_PORT} to another port")


def run(settings: Settings) -> int:
    check(settings)
    stack = Stack(settings.stack_dir, settings.stack_kafka_port, settings.stack_pg_port)
    was_running = stack.running() is not None
    worker: subprocess.Popen[bytes] | None = None
    try:
        info = stack.up()
        from candleflow.store.migrate import migrate

        # The stack said what the database can do; the summary below says what was applied.
        logging.getLogger("candleflow.store.migrate").setLevel(logging.WARNING)
        applied = aio.run(lambda: migrate(info.database_url))
        _say(f"database migrated ({', '.join(applied) or 'up to date'})")
        env = worker_env(info)
        port = int(env[WEB_PORT])
        if not is_free(port):
            raise CandleflowError(f"port {port} busy: stop what listens there or set {WEB_PORT} to another port")
        _say(f"starting the worker ({SOURCE}={env[SOURCE]})")
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "candleflow"), "worker"],
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # signals reach it through us, in order
        )
        base = f"http://127.0.0.1:{port}"
        if wait_http(f"{base}/healthz", worker, 120):
            announce_when_ready(env, info, base, worker)
            _say(f"Chart: http://localhost:{port}  (Ctrl-C stops everything)")
        code = worker.wait()
        _say(f"the worker exited with status {code}")
        return code or 1
    except (_Stop, KeyboardInterrupt):
        return 0
    finally:
        signal.signal(signal.SIGINT, _raise_stop)  # a second Ctrl-C only hurries the worker
        if worker is not None:
            stop_worker(worker)
        if was_running:
            _say("the stack was running before `make run`: left up (candleflow stack down stops it)")
        else:
            _shutdown_stack(stack)


def _shutdown_stack(stack: Stack) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # nothing may interrupt stopping the services
    stack.down()
    _say("stack stopped")


def main(argv: list[str] | None = None) -> int:
    """`python -m candleflow.stack.run [--check]`: `--check` only checks the configuration
    (`make run` does that before it builds the chart, so a mistake is its first line)."""
    only_check = "--check" in (sys.argv[1:] if argv is None else argv)
    # SIGINT too: a shell that starts us in the background leaves SIGINT ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_stop)
    try:
        settings = Settings.from_env()
        if only_check:
            check(settings)
            return 0
        configure(settings.log_level)
        return run(settings)
    except CandleflowError as exc:
        print(f"candleflow: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
