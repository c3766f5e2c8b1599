"""Option types shared by the maintenance commands (`db verify`, `replay`, `backfill`).

Each is a `click.ParamType`, so a bad value fails at parse time with click's usage
error ("Invalid value for '--since': ...") and exit status 2.
"""

from __future__ import annotations

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


INSTANT = Instant()
INSTANT_OR_EARLIEST = Instant(earliest=True)
SYMBOLS = SymbolList()
