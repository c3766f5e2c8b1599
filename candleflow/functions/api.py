"""The extension API: indicators and signals over one series of bars.

An **indicator** turns a series of bars into one value per bar (or one value per output
line, e.g. Bollinger's upper, middle and lower band). The engine calls `step` for every
bar, oldest first, with a `Window` of that bar and the `warmup` bars before it, and
with what `step` returned for the previous bar (`previous`, None at the first bar or
when the previous bar had no value). An indicator that reads `previous` must say so
(`recurrent = True`): the engine then seeds it from the stored value of the bar before
the first one it recomputes.

A **signal** turns bars and indicator values into marks: `step` sees the previous and
the current bar with the values of the indicators it declared in `inputs`, and returns
a `Mark` or None.

Contract (docs/functions.md says the same to operators):

* `step` is a pure function of its arguments: same window and `previous`, same result.
  No clock, no randomness, no I/O, no state kept on `self` between calls — the engine
  recomputes any stretch of a series at any time (late ticks, replays, `db verify`) and
  the stored values must equal a computation over the whole series.
* A window starts at the series' first bar when the series is shorter than `warmup`.
* Return None for "no value yet". An exception or a non-finite value counts as a failure
  of that bar: it is logged and counted, the bar gets no value, and the next bar sees
  `previous=None`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Literal, NamedTuple, Protocol

from candleflow.domain.exceptions import ConfigError

ParamValue = int | float
Outputs = tuple[float, ...]
Tone = Literal["up", "down", "neutral"]
Pane = Literal["price", "own"]


class FunctionConfigError(ConfigError):
    """A configured function is unknown or has a bad parameter; the message says what to fix."""


class Priced(Protocol):
    """Any bar with prices and a volume (the pipeline's `Bar`, a stored bar)."""

    @property
    def open(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def close(self) -> float: ...
    @property
    def volume(self) -> Decimal | float: ...


class FunctionBar(NamedTuple):
    """One bar as functions see it: bucket start (ms, UTC) and OHLCV (volume as float)."""

    bucket: int
    open: float
    high: float
    low: float
    close: float
    volume: float

    @classmethod
    def of(cls, bucket: int, bar: Priced) -> FunctionBar:
        """The function bar of any bar of the pipeline (`domain.bars.Bar`, `store.bars.StoredBar`)."""
        return cls(bucket, bar.open, bar.high, bar.low, bar.close, float(bar.volume))


@dataclass(frozen=True, slots=True)
class Param:
    """A declared parameter: its type is the type of its default (int or float)."""

    name: str
    default: ParamValue
    minimum: ParamValue | None = None
    maximum: ParamValue | None = None
    doc: str = ""

    @property
    def type_name(self) -> str:
        return "integer" if isinstance(self.default, int) else "number"

    def parse(self, raw: str | ParamValue, owner: str) -> ParamValue:
        """`raw` checked against the declaration; FunctionConfigError says what is wrong."""
        try:
            value: ParamValue = int(raw) if isinstance(self.default, int) and not isinstance(raw, float) else float(raw)
        except (TypeError, ValueError):
            expected = "an integer" if isinstance(self.default, int) else "a number"
            raise FunctionConfigError(f"{owner}: {self.name}={raw!r} is not {expected}") from None
        if isinstance(self.default, int) and isinstance(value, float):
            raise FunctionConfigError(f"{owner}: {self.name}={raw!r} is not an integer")
        if isinstance(value, float) and not math.isfinite(value):
            raise FunctionConfigError(f"{owner}: {self.name}={raw!r} is not a finite number")
        if self.minimum is not None and value < self.minimum:
            raise FunctionConfigError(f"{owner}: {self.name}={value} is below its minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise FunctionConfigError(f"{owner}: {self.name}={value} is above its maximum {self.maximum}")
        return value

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.type_name,
            "default": self.default,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "doc": self.doc,
        }


class Window:
    """The bars a `step` may read: the current bar (last) and up to `warmup` before it.

    Column accessors return fresh lists (slices of the series' columns).
    """

    __slots__ = ("_columns", "_end", "_start")

    def __init__(self, columns: Columns, start: int, end: int) -> None:
        self._columns = columns
        self._start = start
        self._end = end

    def __len__(self) -> int:
        return self._end - self._start

    def __getitem__(self, index: int) -> FunctionBar:
        position = self._end + index if index < 0 else self._start + index
        if not self._start <= position < self._end:
            raise IndexError(index)
        return self._columns.bar(position)

    @property
    def bar(self) -> FunctionBar:
        """The current bar."""
        return self._columns.bar(self._end - 1)

    @property
    def closes(self) -> list[float]:
        return self._columns.close[self._start : self._end]

    @property
    def opens(self) -> list[float]:
        return self._columns.open[self._start : self._end]

    @property
    def highs(self) -> list[float]:
        return self._columns.high[self._start : self._end]

    @property
    def lows(self) -> list[float]:
        return self._columns.low[self._start : self._end]

    @property
    def volumes(self) -> list[float]:
        return self._columns.volume[self._start : self._end]


class Columns:
    """A series of bars as columns (what `Window` slices)."""

    __slots__ = ("bucket", "close", "high", "low", "open", "volume")

    def __init__(self, bars: Sequence[FunctionBar]) -> None:
        if bars:
            bucket, open_, high, low, close, volume = map(list, zip(*bars, strict=True))
        else:
            bucket, open_, high, low, close, volume = [], [], [], [], [], []
        self.bucket: list[int] = bucket
        self.open: list[float] = open_
        self.high: list[float] = high
        self.low: list[float] = low
        self.close: list[float] = close
        self.volume: list[float] = volume

    def __len__(self) -> int:
        return len(self.bucket)

    def bar(self, i: int) -> FunctionBar:
        return FunctionBar(self.bucket[i], self.open[i], self.high[i], self.low[i], self.close[i], self.volume[i])


class Function:
    """What indicators and signals share: a name, declared parameters, a canonical key."""

    name: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()
    #: One line for the catalogue.
    summary: ClassVar[str] = ""

    def __init__(self, **values: str | ParamValue) -> None:
        declared = {p.name: p for p in self.params}
        unknown = sorted(set(values) - set(declared))
        if unknown:
            known = ", ".join(declared) or "none"
            raise FunctionConfigError(f"{self.name}: unknown parameter {', '.join(unknown)} (parameters: {known})")
        self.values: dict[str, ParamValue] = {
            p.name: p.parse(values[p.name], self.name) if p.name in values else p.default for p in self.params
        }
        inner = ",".join(f"{name}={_text(value)}" for name, value in self.values.items())
        #: `name(param=value,...)`: the function with its parameters, as configured.
        self.key = f"{self.name}({inner})"
        self.validate()

    def validate(self) -> None:
        """Check parameters against each other; raise FunctionConfigError saying what to fix."""

    def __getitem__(self, name: str) -> ParamValue:
        return self.values[name]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Function) and type(other) is type(self) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return self.key


def _text(value: ParamValue) -> str:
    return str(value) if isinstance(value, int) else repr(float(value))


class Indicator(Function, ABC):
    """bars -> one value (or one per output line) per bar. Subclass and implement `step`."""

    #: Output lines, the first is the main one. Stored and served per line.
    outputs: ClassVar[tuple[str, ...]] = ("value",)
    #: Output lines that only carry state from bar to bar (stored, not drawn by default).
    state: ClassVar[tuple[str, ...]] = ()
    #: Whether `step` reads `previous`.
    recurrent: ClassVar[bool] = False
    #: Where the chart draws it: on the price scale or in its own pane (e.g. RSI).
    pane: ClassVar[Pane] = "price"

    @property
    def warmup(self) -> int:
        """Bars before the current one that `step` reads (0: the current bar only)."""
        return 0

    @abstractmethod
    def step(self, window: Window, previous: Outputs | None) -> Outputs | float | None:
        """The value(s) at `window.bar`; see the module docstring for the contract."""

    def stored(self, output: str | None = None) -> tuple[str, int]:
        """The `(kind, period)` its output line is stored under in `indicators`.

        `period` is the value of an integer parameter named `period` (0 without one);
        `kind` is the name, `.output` for every line but the first, and the other
        parameters in parentheses — so `sma(period=20)` stays `("sma", 20)`.
        """
        line = output or self.outputs[0]
        if line not in self.outputs:
            raise FunctionConfigError(f"{self.name} has no output {line!r} (outputs: {', '.join(self.outputs)})")
        period = self.values.get("period", 0)
        others = ",".join(f"{n}={_text(v)}" for n, v in self.values.items() if n != "period" or not _is_int(v))
        kind = self.name + ("" if line == self.outputs[0] else f".{line}") + (f"({others})" if others else "")
        return kind, int(period) if _is_int(period) else 0


def _is_int(value: ParamValue) -> bool:
    return isinstance(value, int)


@dataclass(frozen=True, slots=True)
class Mark:
    """What a signal returns for a bar: `kind` names the event (e.g. `golden_cross`),
    `label` is the one or two letters drawn on the bar, `text` its tooltip, `tone`
    colours it (up: green, down: red)."""

    kind: str
    label: str
    text: str
    tone: Tone = "neutral"


#: Every indicator's outputs at one bar, by the indicator's `key` (None: no value there).
Values = dict[str, Outputs | None]


@dataclass(frozen=True, slots=True)
class Point:
    """One bar with the values of the indicators at that bar."""

    bar: FunctionBar
    values: Mapping[str, Outputs | None]

    def value(self, indicator: Indicator, output: int = 0) -> float | None:
        outputs = self.values.get(indicator.key)
        return None if outputs is None else outputs[output]


class Signal(Function, ABC):
    """bars and indicator values -> marks. Subclass and implement `inputs` and `step`."""

    @abstractmethod
    def inputs(self) -> tuple[Indicator, ...]:
        """The indicators `step` reads (registered with the signal if not configured)."""

    @abstractmethod
    def step(self, previous: Point | None, current: Point) -> Mark | None:
        """The mark at `current.bar`, if any; `previous` is None at the series' first bar."""
