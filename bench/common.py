"""Shared pieces of the benchmarks: the stack, timing and the result record."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


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
