"""What a replay's client holds after applying its events, per series: bars, indicator
values and marks by bar time (seconds). A `reset` asks `refetch` for the range from the
store, as a client does; tests compare the result with what the store serves."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: (time, open, high, low, close, volume, trades)
BarRow = tuple[int, float, float, float, float, float, int]
#: (time, signal, kind, label, text)
MarkKey = tuple[int, str, str, str, str]
Refetch = Callable[[str, str, int, int], "SeriesHeld"]


@dataclass
class SeriesHeld:
    bars: dict[int, BarRow] = field(default_factory=dict)
    values: dict[int, dict[str, list[float] | None]] = field(default_factory=dict)
    marks: dict[int, set[MarkKey]] = field(default_factory=dict)

    def replace(self, start: int, end: int, other: SeriesHeld) -> None:
        """Everything of `[start, end)` replaced by `other`'s."""
        for held in (self.bars, self.values, self.marks):
            for t in [t for t in held if start <= t < end]:
                del held[t]
        self.bars.update({t: b for t, b in other.bars.items() if start <= t < end})
        self.values.update({t: v for t, v in other.values.items() if start <= t < end})
        self.marks.update({t: m for t, m in other.marks.items() if start <= t < end})

    def mark_keys(self) -> set[MarkKey]:
        return {m for found in self.marks.values() for m in found}


@dataclass
class ReplayClient:
    refetch: Refetch | None = None
    series: dict[tuple[str, str], SeriesHeld] = field(default_factory=dict)
    kinds: list[str] = field(default_factory=list)
    clocks: list[int] = field(default_factory=list)
    #: (symbol, resolution, kind, time) of every bar and correction, in order
    bar_events: list[tuple[str, str, str, int]] = field(default_factory=list)

    def held(self, data: dict[str, Any]) -> SeriesHeld:
        return self.series.setdefault((data["symbol"], data["resolution"]), SeriesHeld())

    def bar_times(self, symbol: str, resolution: str) -> list[int]:
        """Times of the series' `bar` events, in order (corrections left out)."""
        return [t for s, r, kind, t in self.bar_events if (s, r, kind) == (symbol, resolution, "bar")]

    def apply_all(self, events: Iterable[tuple[str, dict[str, Any]]]) -> None:
        for kind, data in events:
            self.apply(kind, data)

    def apply(self, kind: str, data: dict[str, Any]) -> None:
        self.kinds.append(kind)
        if "clock_ms" in data:
            self.clocks.append(int(data["clock_ms"]))
        if kind in ("bar", "correction"):
            row = (data["time"], data["open"], data["high"], data["low"], data["close"], data["volume"], data["trades"])
            self.held(data).bars[data["time"]] = row
            self.bar_events.append((data["symbol"], data["resolution"], kind, data["time"]))
        elif kind == "indicators":
            held = self.held(data)
            for t in [t for t in held.marks if data["from"] <= t <= data["to"]]:
                del held.marks[t]
            for bar in data["bars"]:
                held.values[bar["time"]] = bar["values"]
            for m in data["marks"]:
                held.marks.setdefault(m["time"], set()).add((m["time"], m["signal"], m["kind"], m["label"], m["text"]))
        elif kind == "reset":
            if self.refetch is None:
                raise AssertionError(f"unexpected reset {data}")
            fresh = self.refetch(data["symbol"], data["resolution"], data["from"], data["to"])
            self.held(data).replace(data["from"], data["to"], fresh)


async def served(session: Any, url: str, symbol: str, resolution: str, start: int, end: int) -> SeriesHeld:
    """What the store serves for `[start, end)` (seconds): `/udf/history` bars (trades
    unknown: -1), every registered indicator line from `/api/indicators`, `/udf/marks`."""
    held = SeriesHeld()
    base = {"symbol": symbol, "resolution": resolution}
    async with session.get(f"{url}/udf/history", params={**base, "from": start, "to": end}) as answer:
        body = await answer.json()
    if body["s"] == "ok":
        for row in zip(body["t"], body["o"], body["h"], body["l"], body["c"], body["v"], strict=True):
            held.bars[row[0]] = (*row, -1)
    async with session.get(f"{url}/api/functions") as answer:
        catalogue = (await answer.json())["functions"]
    indicators = [f for f in catalogue if f["type"] == "indicator"]
    lines: dict[str, dict[int, list[float]]] = {}
    for entry in indicators:
        for output in entry["outputs"]:
            params = {**base, "kind": entry["name"], **entry["values"], "output": output, "from": start, "to": end}
            async with session.get(f"{url}/api/indicators", params=params) as answer:
                body = await answer.json()
            for t, v in zip(body.get("t", []), body.get("v", []), strict=True):
                lines.setdefault(entry["key"], {}).setdefault(t, []).append(v)
    for t in held.bars:
        held.values[t] = {f["key"]: lines.get(f["key"], {}).get(t) for f in indicators}
    async with session.get(f"{url}/udf/marks", params={**base, "from": start, "to": end - 1}) as answer:
        marks = await answer.json()
    for t, signal, kind, label, text in zip(
        marks["time"], marks["signal"], marks["kind"], marks["label"], marks["text"], strict=True
    ):
        held.marks.setdefault(t, set()).add((t, signal, kind, label, text))
    return held


def ohlcv(bars: dict[int, BarRow]) -> dict[int, tuple[float, ...]]:
    """Bars without their trade counts (`/udf/history` has none)."""
    return {t: row[:6] for t, row in bars.items()}
