"""Option types shared by the commands (`db verify`, `replay`, `backfill`, `token issue`).

Each is a `click.ParamType`, so a bad value fails at parse time with click's usage
error ("Invalid value for '--since': ...") and exit status 2.
"""

from __future__ import annotations

import re

import click

from candleflow.domain.instants import parse_instant
from candleflow.domain.symbols import parse_symbol


class Instant(click.ParamType):
    """A time as epoch ms or ISO 8601 (UTC unless a zone is given) -> epoch ms.

    With `earliest=True` the word `earliest` is accepted too and gives None.
    """

    name = "instant"

    def __init__(self, *, earliest: bool = False) -> None:
        self.earliest = earliest

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int | None:
        if isinstance(value, int):
            return value
        text = str(value)
        if self.earliest and text.strip().lower() == "earliest":
            return None
        try:
            return parse_instant(text)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class SymbolList(click.ParamType):
    """`A,B` -> the distinct `Exchange:BASE/QUOTE` symbols, in the order given, each checked."""

    name = "symbols"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, ...]:
        if isinstance(value, tuple):
            return value
        names = tuple(dict.fromkeys(s.strip() for s in str(value).split(",") if s.strip()))
        if not names:
            self.fail("give at least one symbol, e.g. Coinbase:BTC/USD", param, ctx)
        for name in names:
            try:
                parse_symbol(name)
            except ValueError as exc:
                self.fail(str(exc), param, ctx)
        return names


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class Duration(click.ParamType):
    """`90` or `90s`, `15m`, `12h`, `1d`, `2w` -> seconds (a positive number)."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(value).lower())
        if match is None or float(match.group(1)) <= 0:
            self.fail(f"{value!r} is not a duration: write e.g. 3600, 90s, 15m, 12h, 1d or 2w", param, ctx)
        return float(match.group(1)) * _UNITS[match.group(2) or "s"]


INSTANT = Instant()
INSTANT_OR_EARLIEST = Instant(earliest=True)
SYMBOLS = SymbolList()
DURATION = Duration()
