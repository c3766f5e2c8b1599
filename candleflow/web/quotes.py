"""Quotes as `/udf/quotes` answers them, one item per name asked: the last price, the
change over 24 h and its high, low and volume, read from the 1-minute bars
(`candleflow.store.queries.quotes`). The view (`candleflow.web.udf.quotes`) and the
streamed `quote` events (`candleflow.web.quote_board`) build their items here, so a
quiet stream ends on exactly what `/udf/quotes` answers."""

from __future__ import annotations

from typing import Any

from candleflow.store import queries
from candleflow.store.connection import Statements
from candleflow.store.queries import Quote
from candleflow.web import symbol_info
from candleflow.web.symbols_cache import SymbolCache


async def quote_items(db: Statements, symbols: SymbolCache, names: list[str]) -> list[dict[str, Any]]:
    """`{"s": "ok", "n": name, "v": {...}}` per name, in order (`"s": "error"` and no
    values for a name that is no stored symbol or has no 1-minute bar yet)."""
    resolved = {name: await symbols.find(db, name) for name in names}
    found = await queries.quotes(db, sorted({r.symbol for r in resolved.values() if r}))
    items = []
    for name, row in resolved.items():
        quote = found.get(row.symbol) if row else None
        if quote is None or quote.last is None:
            items.append({"s": "error", "n": name, "v": {}})
        else:
            items.append({"s": "ok", "n": name, "v": quote_values(quote)})
    return items


def quote_values(quote: Quote) -> dict[str, Any]:
    last = quote.last if quote.last is not None else 0.0
    reference = quote.prev_close if quote.prev_close is not None else quote.open
    row = quote.symbol
    change = round(last - reference, max(row.price_decimals, 0)) if reference is not None else 0.0
    percent = round(change / reference * 100, 4) if reference else 0.0
    return {
        "ch": change,
        "chp": percent,
        "short_name": symbol_info.short_name(row),
        "exchange": row.exchange,
        "description": symbol_info.description(row),
        "lp": last,
        "ask": last,
        "bid": last,
        "open_price": quote.open if quote.open is not None else last,
        "high_price": quote.high if quote.high is not None else last,
        "low_price": quote.low if quote.low is not None else last,
        "prev_close_price": reference if reference is not None else last,
        "volume": quote.volume,
    }
