"""`CANDLEFLOW_SOURCE`: which feeds a process runs, parsed once and checked at start.

The setting is a comma-separated list of feeds, each a source name with an optional
`:` and `+`-separated markets::

    none                                   no feed (a worker that only builds bars)
    synthetic                              the seeded random walk (CANDLEFLOW_SYNTHETIC_*)
    binance:BTC/USDT+ETH/USDT,kraken:BTC/USD
    coinbase                               an exchange with its default markets
    cryptocompare                          CANDLEFLOW_CRYPTOCOMPARE_PAIRS through the legacy streamer
    coindesk:Coinbase:BTC/USD+Kraken:ETH/EUR   named markets through the CoinDesk Data streamer

An exchange's markets are written BASE/QUOTE (its own asset codes are read too:
`kraken:XBT/USD` is `Kraken:BTC/USD`); an aggregator's are whole symbols. A market may
come from two feeds at once (for example `coinbase:BTC/USD,cryptocompare:Coinbase:BTC/USD`):
both publish the same series with the exchange's trade ids, and each trade counts once.
"""

from __future__ import annotations

from dataclasses import dataclass

from candleflow.domain.exceptions import ConfigError, InvalidSymbol
from candleflow.domain.symbols import parse_symbol
from candleflow.domain.venues import VENUES

VARIABLE = "CANDLEFLOW_SOURCE"
#: Feeds that stream many exchanges' markets through one service, with an API key.
AGGREGATORS = ("cryptocompare", "coindesk")
KINDS = ("none", "synthetic", *AGGREGATORS, *VENUES)
EXAMPLE = "binance:BTC/USDT+ETH/USDT,kraken:BTC/USD"


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed: its kind (a source name) and its markets (empty: the kind's defaults)."""

    kind: str
    symbols: tuple[str, ...] = ()

    def __str__(self) -> str:
        if not self.symbols:
            return self.kind
        if self.kind in VENUES:
            return f"{self.kind}:" + "+".join(s.partition(":")[2] for s in self.symbols)
        return f"{self.kind}:" + "+".join(self.symbols)


def _fail(raw: str, why: str) -> ConfigError:
    return ConfigError(f"{VARIABLE}={raw!r} is not valid: {why} (for example {VARIABLE}={EXAMPLE})")


def _markets(raw: str, kind: str, listed: str) -> tuple[str, ...]:
    items = [item.strip() for item in listed.split("+")]
    if not all(items):
        raise _fail(raw, f"an empty market in {kind}'s list: separate markets with a single +")
    symbols: list[str] = []
    for item in items:
        try:
            symbol = VENUES[kind].symbol(item) if kind in VENUES else str(parse_symbol(item))
        except InvalidSymbol as exc:
            hint = "BASE/QUOTE, e.g. BTC/USD" if kind in VENUES else "Exchange:BASE/QUOTE, e.g. Coinbase:BTC/USD"
            raise _fail(raw, f"{kind} market {item!r} is not {hint} ({exc})") from None
        if symbol not in symbols:
            symbols.append(symbol)
    return tuple(symbols)


def parse_feeds(raw: str) -> tuple[FeedSpec, ...]:
    """The feeds of a `CANDLEFLOW_SOURCE` value, or `ConfigError` saying what to fix."""
    entries = [entry.strip() for entry in raw.split(",")]
    if not any(entries):
        raise _fail(raw, "empty: write none, synthetic, or the feeds to run")
    if not all(entries):
        raise _fail(raw, "an empty entry: separate feeds with a single comma")
    specs: list[FeedSpec] = []
    for entry in entries:
        word, colon, listed = entry.partition(":")
        kind = word.strip().lower()
        if kind not in KINDS:
            raise _fail(raw, f"unknown source {word.strip()!r}: expected one of {', '.join(KINDS)}")
        if any(spec.kind == kind for spec in specs):
            raise _fail(raw, f"{kind} is listed twice: put all its markets in one entry, joined with +")
        if colon and kind in ("none", "synthetic"):
            where = "CANDLEFLOW_SYNTHETIC_SYMBOLS" if kind == "synthetic" else "nothing"
            raise _fail(raw, f"{kind} takes no markets here (its symbols come from {where})")
        if colon and not listed.strip():
            raise _fail(raw, f"{kind}: is followed by no market: list them (BTC/USD+ETH/USD) or drop the colon")
        specs.append(FeedSpec(kind, _markets(raw, kind, listed) if colon else ()))
    if len(specs) > 1 and any(spec.kind == "none" for spec in specs):
        raise _fail(raw, "none cannot be combined with other feeds")
    return tuple(specs)


def canonical(raw: str) -> str:
    """The setting as candleflow writes it back: kinds in lower case, markets spelled
    as symbols say them (what the worker logs and compares)."""
    return ",".join(str(spec) for spec in parse_feeds(raw))
