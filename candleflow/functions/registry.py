"""Which functions a process computes: the defaults plus `CANDLEFLOW_FUNCTIONS`.

The defaults are SMA and EMA of every `CANDLEFLOW_MA_PERIODS` period and the crossover of
`CANDLEFLOW_CROSSOVER`. `CANDLEFLOW_FUNCTIONS` adds more, comma-separated, each
`REF` or `REF(param=value,...)` where REF is

* a shipped function's name (`rsi`, `vwap`, `bollinger`, `close_crosses_ema`, `sma`, ...),
* the name of an entry point in the `candleflow.functions` group, or
* `package.module:attribute` naming a `Function` subclass (or a configured instance).

Everything is resolved and checked at start: an unknown name, a module that does not
import or a bad parameter raises `FunctionConfigError` saying what to fix.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from candleflow.core.settings import Settings
from candleflow.functions.api import Function, FunctionConfigError, Indicator, Signal
from candleflow.functions.builtin import EMA, SMA, Crossover
from candleflow.functions.examples import RSI, VWAP, Bollinger, CloseCrossesEma

ENTRY_POINT_GROUP = "candleflow.functions"
SHIPPED: dict[str, type[Function]] = {
    cls.name: cls for cls in (SMA, EMA, Crossover, RSI, VWAP, Bollinger, CloseCrossesEma)
}
_SPEC = re.compile(r"\s*([A-Za-z_][\w.]*(?::[A-Za-z_][\w.]*)?)\s*(?:\((.*)\))?\s*", re.DOTALL)


@dataclass(frozen=True)
class FunctionSet:
    """The configured indicators (signal inputs included, each once) and signals."""

    indicators: tuple[Indicator, ...]
    signals: tuple[Signal, ...] = ()
    #: Bars before a recompute's first bar that the recompute reads (max warmup + 1).
    needed: int = field(init=False)
    #: `(kind, period)` of each indicator's output lines, as stored, by indicator key.
    lines: Mapping[str, tuple[tuple[str, int], ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "needed", max((i.warmup for i in self.indicators), default=0) + 1)
        lines = {ind.key: tuple(ind.stored(line) for line in ind.outputs) for ind in self.indicators}
        object.__setattr__(self, "lines", lines)

    @classmethod
    def of(cls, functions: Iterable[Function]) -> FunctionSet:
        """Indicators and signals in configuration order; a signal's inputs are added
        before it when missing; duplicates (same key) are kept once."""
        indicators: dict[str, Indicator] = {}
        signals: dict[str, Signal] = {}
        for function in functions:
            if isinstance(function, Signal):
                for needed in function.inputs():
                    indicators.setdefault(needed.key, needed)
                signals.setdefault(function.key, function)
            elif isinstance(function, Indicator):
                indicators.setdefault(function.key, function)
            else:
                raise FunctionConfigError(f"{function!r} is neither an Indicator nor a Signal")
        _check_names(list(indicators.values()) + list(signals.values()))
        return cls(tuple(indicators.values()), tuple(signals.values()))

    def find(self, name: str, values: Mapping[str, str]) -> Function:
        """The registered function `name` with these parameters (defaults for the others)."""
        candidates = [f for f in (*self.indicators, *self.signals) if f.name == name]
        if not candidates:
            known = ", ".join(sorted({f.name for f in (*self.indicators, *self.signals)}))
            raise FunctionConfigError(f"no function {name!r} is registered (registered: {known})")
        wanted = type(candidates[0])(**values).key
        for function in candidates:
            if function.key == wanted:
                return function
        keys = ", ".join(f.key for f in candidates)
        raise FunctionConfigError(f"{wanted} is not computed; registered: {keys}")


def _check_names(functions: Sequence[Function]) -> None:
    owners: dict[str, type[Function]] = {}
    for function in functions:
        owner = owners.setdefault(function.name, type(function))
        if owner is not type(function):
            raise FunctionConfigError(
                f"two functions are named {function.name!r} ({owner.__module__}.{owner.__qualname__} and "
                f"{type(function).__module__}.{type(function).__qualname__}): rename one"
            )


def split_specs(text: str) -> list[str]:
    """`a, b(x=1,y=2)` -> `["a", "b(x=1,y=2)"]` (commas inside parentheses kept)."""
    items, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise FunctionConfigError(f"CANDLEFLOW_FUNCTIONS: unbalanced ')' in {text!r}")
        current += char
    if depth:
        raise FunctionConfigError(f"CANDLEFLOW_FUNCTIONS: unbalanced '(' in {text!r}")
    items.append(current)
    return [item.strip() for item in items if item.strip()]


def _reference(ref: str) -> object:
    if ":" in ref:
        module_name, _, attribute = ref.partition(":")
        try:
            target: object = importlib.import_module(module_name)
        except ImportError as exc:
            raise FunctionConfigError(
                f"CANDLEFLOW_FUNCTIONS: cannot import {module_name!r} ({exc}): install the package that provides "
                "it in the worker's environment, or fix the name"
            ) from None
        for part in attribute.split("."):
            if not hasattr(target, part):
                raise FunctionConfigError(f"CANDLEFLOW_FUNCTIONS: {module_name} has no attribute {attribute!r}")
            target = getattr(target, part)
        return target
    if ref in SHIPPED:
        return SHIPPED[ref]
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == ref]
    if found:
        return found[0].load()
    raise FunctionConfigError(
        f"CANDLEFLOW_FUNCTIONS: unknown function {ref!r}: use one of {', '.join(sorted(SHIPPED))}, "
        f"an entry point of the {ENTRY_POINT_GROUP!r} group, or package.module:attribute"
    )


def _values(text: str, ref: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise FunctionConfigError(f"CANDLEFLOW_FUNCTIONS: {ref}: write parameters as name=value, not {item!r}")
        values[name.strip()] = value.strip()
    return values


def parse(spec: str) -> Function:
    """One `REF(param=value,...)` item as a configured function."""
    match = _SPEC.fullmatch(spec)
    if match is None:
        raise FunctionConfigError(
            f"CANDLEFLOW_FUNCTIONS: {spec!r} is not NAME, NAME(param=value,...) or package.module:attribute"
        )
    ref, arguments = match.group(1), match.group(2)
    target = _reference(ref)
    values = _values(arguments or "", ref)
    if isinstance(target, type) and issubclass(target, Function):
        try:
            return target(**values)
        except FunctionConfigError as exc:
            raise FunctionConfigError(f"CANDLEFLOW_FUNCTIONS: {exc}") from None
    if isinstance(target, Function):
        if values:
            raise FunctionConfigError(f"CANDLEFLOW_FUNCTIONS: {ref} is a configured instance: give no parameters")
        return target
    raise FunctionConfigError(
        f"CANDLEFLOW_FUNCTIONS: {ref} is {type(target).__name__}, not a candleflow.functions Indicator or Signal"
    )


def load(specs: str, ma_periods: Sequence[int], crossover: tuple[int, int]) -> FunctionSet:
    """The defaults, then every item of `specs` (the text of `CANDLEFLOW_FUNCTIONS`).

    A function listed twice, or one the defaults compute already, is refused: a
    configuration that says the same thing twice is a mistake somewhere (a copy left in,
    a parameter meant to differ), and keeping one copy silently would hide it."""
    defaults: list[Function] = [cls(period=p) for p in ma_periods for cls in (SMA, EMA)]
    defaults.append(Crossover(fast=crossover[0], slow=crossover[1]))
    listed: dict[str, str] = {}
    configured: list[Function] = []
    for spec in split_specs(specs):
        function = parse(spec)
        if function.key in listed:
            raise FunctionConfigError(
                f"CANDLEFLOW_FUNCTIONS lists {function.key} twice ({listed[function.key]!r} and {spec!r}): "
                "remove one, or give the second other parameters"
            )
        if function in defaults:
            raise FunctionConfigError(
                f"CANDLEFLOW_FUNCTIONS: {spec!r} is {function.key}, which is computed already "
                f"(CANDLEFLOW_MA_PERIODS={','.join(map(str, ma_periods))}, "
                f"CANDLEFLOW_CROSSOVER={crossover[0]},{crossover[1]}): remove it"
            )
        listed[function.key] = spec
        configured.append(function)
    return FunctionSet.of([*defaults, *configured])


def from_settings(settings: Settings) -> FunctionSet:
    return load(settings.functions, settings.ma_periods, settings.crossover)
