"""Shared pieces of the benchmarks: timing, the result record and child processes."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import psutil


@dataclass
class Figure:
    """One line of the benchmark table: a figure beside its same-run baseline."""

    scenario: str
    figure: str
    value: float
    unit: str
    baseline_name: str
    baseline: float | None
    target: str = ""
    runs: list[float] = field(default_factory=list)
    baseline_runs: list[float] = field(default_factory=list)
    higher_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.baseline:
            return None
        return self.value / self.baseline

    @property
    def spread(self) -> float:
        """Relative spread (max - min) / median of the runs: how noisy the figure is."""
        if len(self.runs) < 2 or not self.value:
            return 0.0
        return (max(self.runs) - min(self.runs)) / abs(self.value)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["spread"] = self.spread
        return data


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


class Child:
    """A benchmark's subprocess (a worker, a feed) in its own process group, so that
    stopping it stops everything it started; `stop()` is safe on a process that died
    already. Every child is remembered until stopped (`stop_all` at the end of a run)."""

    running: ClassVar[list[Child]] = []

    def __init__(self, argv: Sequence[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                list(argv), env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        self.pid = self.process.pid
        self._psutil = psutil.Process(self.pid)
        Child.running.append(self)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process and its children so far."""
        try:
            times = self._psutil.cpu_times()
        except psutil.NoSuchProcess:
            return 0.0
        return float(times.user + times.system + times.children_user + times.children_system)

    def rss_bytes(self) -> int:
        return int(self._psutil.memory_info().rss)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the group and wait; SIGKILL what is left after `timeout`."""
        if self.alive:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(timeout=timeout)
        self._signal_group(signal.SIGKILL)  # stragglers in the group
        if self in Child.running:
            Child.running.remove(self)

    @classmethod
    def stop_all(cls) -> None:
        for child in list(cls.running):
            child.stop(timeout=10)


def leftover_processes() -> list[str]:
    """Descendants of this process still alive, killed on the spot; each described."""
    found = []
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            found.append(f"{process.pid} {' '.join(process.cmdline())[:160]}")
            process.kill()
    return found


def candleflow_executable() -> str:
    return str(Path(sys.executable).with_name("candleflow"))


@contextlib.contextmanager
def run_logs(prefix: str) -> Iterator[Path]:
    """A directory for the logs of a run's child processes: removed when the run ends
    well, kept (the error names it) when it fails."""
    logs = Path(tempfile.mkdtemp(prefix=prefix))
    yield logs
    shutil.rmtree(logs, ignore_errors=True)
