"""How a setting's text becomes its value: `Cast` (a parser and the words that tell a
user what to write) and the casts `candleflow.core.settings` declares its fields with.

A parser raises `ValueError` (or `TypeError`) on a malformed value; `Settings.from_env`
turns that into a `ConfigError` naming the variable and `Cast.expect`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Cast(Generic[T]):
    """How one variable's text becomes its value; `expect` tells a user what to write."""

    parse: Callable[[str], T]
    expect: str


def _checked(convert: Callable[[str], T], ok: Callable[[T], bool]) -> Callable[[str], T]:
    def parse(raw: str) -> T:
        value = convert(raw)
        if not ok(value):
            raise ValueError(raw)
        return value

    return parse


def _matching(pattern: str, *, full: bool = True) -> Callable[[str], str]:
    match = re.fullmatch if full else re.match
    return _checked(str, lambda raw: match(pattern, raw) is not None)


def _periods(raw: str) -> tuple[int, ...]:
    values = tuple(sorted({POSITIVE_INT.parse(p) for p in raw.split(",") if p.strip()}))
    if not values:
        raise ValueError(raw)
    return values


def _pair(raw: str) -> tuple[int, int]:
    fast, slow = (POSITIVE_INT.parse(p) for p in raw.split(","))
    if fast >= slow:
        raise ValueError(raw)
    return fast, slow


def choice(options: tuple[str, ...], normalise: Callable[[str], str] = str.lower) -> Cast[str]:
    return Cast(_checked(normalise, lambda value: value in options), "one of " + ", ".join(options))


def _bootstrap(raw: str) -> str:
    for server in raw.split(","):
        if not re.fullmatch(r"[\w.\-]+:\d{1,5}", server.strip()):
            raise ValueError(raw)
    return raw


def _boolean(raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ValueError(raw)


def _feeds(raw: str) -> str:
    from candleflow.domain.feeds import canonical

    return canonical(raw)  # a ConfigError names the variable and what to fix


def _symbols(raw: str) -> tuple[str, ...]:
    from candleflow.domain.symbols import parse_symbol

    values = tuple(p.strip() for p in raw.split(",") if p.strip())
    for value in values:
        parse_symbol(value)
    return values


TEXT = Cast(str, "any text")
PORT = Cast(_checked(int, lambda v: 0 <= v <= 65535), "a port number 0-65535")
ANY_PORT = Cast(PORT.parse, "a port number (0 = any free port)")
POSITIVE_INT = Cast(_checked(int, lambda v: v > 0), "a positive integer")
INTEGER = Cast(int, "an integer")
POSITIVE_FLOAT = Cast(_checked(float, lambda v: v > 0), "a positive number")
SECONDS = Cast(POSITIVE_FLOAT.parse, "a positive number of seconds")
NON_NEGATIVE_SECONDS = Cast(_checked(float, lambda v: v >= 0), "seconds >= 0")
NON_NEGATIVE_HOURS = Cast(_checked(float, lambda v: v >= 0), "hours >= 0")
PERIODS = Cast(_periods, "comma-separated positive integers")
PAIR = Cast(_pair, "two integers 'fast,slow' with fast < slow")
BOOTSTRAP = Cast(_bootstrap, "host:port[,host:port...]")
DATABASE_URL = Cast(_matching(r"postgres(ql)?://", full=False), "a postgresql:// URL")
DATABASE_URL_OR_EMPTY = Cast(_matching(r"(postgres(ql)?://.*)?"), "a postgresql:// URL, or empty")
IDENTIFIER = Cast(_matching(r"[A-Za-z0-9._\-]{1,200}"), "letters, digits, '.', '_' or '-'")
TOPIC = Cast(IDENTIFIER.parse, "a Kafka topic name")
HOST = Cast(_checked(str, bool), "a host name or address")
WS_URL = Cast(_matching(r"wss?://", full=False), "a ws:// or wss:// URL")
HTTP_URL = Cast(_matching(r"https?://", full=False), "an http(s):// URL")
SYMBOLS = Cast(_symbols, "comma-separated symbols written Exchange:BASE/QUOTE")
FEEDS = Cast(_feeds, "none, synthetic, or feeds such as binance:BTC/USDT+ETH/USDT,kraken:BTC/USD")
DIRECTORY = Cast(Path, "a directory path")
BOOLEAN = Cast(_boolean, "true or false (also 1/0, yes/no, on/off)")
FILE = Cast(str, "a file path, or empty")
