"""`candleflow worker` (or `candleflow web`) as a real subprocess: start, wait for HTTP,
kill, restart.

Each worker runs in its own session, so killing its process group leaves nothing
behind; its output goes to a log file under the test's tmp dir.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from candleflow.stack.ports import free_port
from tests.harness.waiting import eventually, eventually_sync


def candleflow_executable() -> str:
    """The `candleflow` console script of the running virtualenv."""
    beside = Path(sys.executable).parent / "candleflow"
    if beside.exists():
        return str(beside)
    found = shutil.which("candleflow")
    if not found:
        raise RuntimeError("the candleflow console script is missing: pip install -e '.[dev]'")
    return found


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


#: The command line of a worker: `candleflow` and these arguments.
WORKER = ("worker", "-l", "info")
#: ... and of a web-only process.
WEB = ("web",)


class WorkerProcess:
    """One `candleflow worker -l info` (or other `args`) with its own web port."""

    def __init__(self, env: dict[str, str], log_path: Path, args: tuple[str, ...] = WORKER) -> None:
        self.port = int(env["CANDLEFLOW_WEB_PORT"])
        self.log_path = log_path
        self.env = env
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None
        self._start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _start(self) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"\n==== candleflow {' '.join(self.args)} starting at {time.time():.3f}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [candleflow_executable(), *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60) -> None:
        """Until GET /healthz answers 200; fail early, with the log, if the worker exits."""
        eventually_sync(
            self._ready,
            timeout,
            interval=0.3,
            what=f"worker on {self.url} ready; log {self.log_path}:\n{_tail(self.log_path)}",
            ignoring=(OSError,),
        )

    def _ready(self) -> bool:
        if not self.running:
            raise RuntimeError(
                f"worker exited with {self.process and self.process.returncode} before "
                f"it was ready; log {self.log_path}:\n{_tail(self.log_path)}"
            )
        with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
            return bool(response.status == 200)

    def _signal(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """SIGKILL the worker (and anything it forked): a crash, no shutdown code runs."""
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)

    def terminate(self, timeout: float = 30) -> None:
        """SIGTERM and wait for a clean exit; SIGKILL after `timeout`."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._signal(signal.SIGKILL)  # stragglers in the group, if any

    def restart(self) -> None:
        """Stop it if it runs (cleanly), start it again with the same env and port."""
        if self.running:
            self.terminate()
        self._start()

    def rss_bytes(self) -> int:
        """Resident memory of the worker process now."""
        if self.process is None:
            raise RuntimeError("worker not started")
        return int(psutil.Process(self.process.pid).memory_info().rss)


class WorkerFactory:
    """Starts workers for one test and stops them all at teardown."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.workers: list[WorkerProcess] = []

    def start(self, env: dict[str, str], args: tuple[str, ...] = WORKER) -> WorkerProcess:
        """A worker (`candleflow` `args`) with `env` over a clean environment (no inherited
        CANDLEFLOW_*), on a free web port unless `env` names one."""
        full = {k: v for k, v in os.environ.items() if not k.startswith("CANDLEFLOW_")}
        full.update({"CANDLEFLOW_WEB_HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1"})
        full.update(env)
        full.setdefault("CANDLEFLOW_WEB_PORT", str(free_port()))
        log_path = self.log_dir / f"worker-{len(self.workers) + 1}.log"
        worker = WorkerProcess(full, log_path, args)
        self.workers.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.terminate(timeout=20)


def log_size(worker: WorkerProcess) -> int:
    """Bytes the worker has logged so far (a mark for `wait_for_log`)."""
    return int(worker.log_path.stat().st_size)


async def wait_for_log(worker: WorkerProcess, pattern: str | re.Pattern[str], after: int, within: float = 90) -> None:
    """Until `pattern` appears in the worker's log past byte `after`: what the test caused
    was observed by the worker, not only caused."""
    wanted = re.compile(re.escape(pattern)) if isinstance(pattern, str) else pattern

    def logged() -> bool:
        assert worker.running, f"worker exited before logging {wanted.pattern!r}"
        return bool(wanted.search(worker.log_path.read_bytes()[after:].decode(errors="replace")))

    await eventually(logged, within, what=f"the worker logged {wanted.pattern!r}")
