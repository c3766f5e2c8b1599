"""What the UDF protocol says about a symbol: LibrarySymbolInfo, search items, config.

Pure functions of `SymbolRow`s; the views in `candleflow.web.udf` fetch the rows.
"""

from __future__ import annotations

from typing import Any

from candleflow.domain.resolution import SUPPORTED, SUPPORTED_CODES
from candleflow.store.queries import SymbolRow

SYMBOL_TYPE = "crypto"
VOLUME_PRECISION = 8
SECONDS_MULTIPLIERS = [r.code[:-1] for r in SUPPORTED if r.unit == "S"]
INTRADAY_MULTIPLIERS = [r.code for r in SUPPORTED if r.unit == ""]


def short_name(row: SymbolRow) -> str:
    return f"{row.base}/{row.quote}"


def description(row: SymbolRow) -> str:
    return f"{row.base} / {row.quote} on {row.exchange}"


def pricescale(row: SymbolRow) -> int:
    return int(10 ** max(0, min(row.price_decimals, 15)))


def library_symbol_info(row: SymbolRow) -> dict[str, Any]:
    """The complete LibrarySymbolInfo `/udf/symbols` answers."""
    return {
        "name": short_name(row),
        "ticker": row.symbol,
        "full_name": row.symbol,
        "description": description(row),
        "type": SYMBOL_TYPE,
        "exchange": row.exchange,
        "listed_exchange": row.exchange,
        "session": "24x7",
        "timezone": "Etc/UTC",
        "format": "price",
        "minmov": row.minmov,
        "pricescale": pricescale(row),
        "has_intraday": True,
        "has_seconds": True,
        "seconds_multipliers": SECONDS_MULTIPLIERS,
        "intraday_multipliers": INTRADAY_MULTIPLIERS,
        "has_daily": True,
        "daily_multipliers": ["1"],
        "has_weekly_and_monthly": True,
        "weekly_multipliers": ["1"],
        "monthly_multipliers": ["1"],
        "has_empty_bars": False,
        "supported_resolutions": list(SUPPORTED_CODES),
        "volume_precision": VOLUME_PRECISION,
        "visible_plots_set": "ohlcv",
        "data_status": "streaming",
        "currency_code": row.quote,
    }


def search_item(row: SymbolRow) -> dict[str, str]:
    return {
        "symbol": short_name(row),
        "full_name": row.symbol,
        "description": description(row),
        "exchange": row.exchange,
        "ticker": row.symbol,
        "type": SYMBOL_TYPE,
    }


def matches(row: SymbolRow, query: str, exchange: str, symbol_type: str) -> bool:
    """Case-insensitive substring match on symbol and description, with the filters."""
    if symbol_type and symbol_type.lower() != SYMBOL_TYPE:
        return False
    if exchange and exchange.lower() != row.exchange.lower():
        return False
    needle = query.upper()
    return needle in row.symbol.upper() or needle in description(row).upper()


def search_rank(row: SymbolRow, query: str) -> tuple[int, str]:
    """Exact names first, then prefixes, then the rest, alphabetically."""
    needle = query.upper()
    names = (row.symbol.upper(), short_name(row).upper(), row.base.upper())
    if needle in names:
        return (0, row.symbol)
    if any(name.startswith(needle) for name in names):
        return (1, row.symbol)
    return (2, row.symbol)


def config(exchanges: list[str]) -> dict[str, Any]:
    """The DatafeedConfiguration `/udf/config` answers."""
    return {
        "supported_resolutions": list(SUPPORTED_CODES),
        "supports_search": True,
        "supports_group_request": False,
        "supports_marks": True,
        "supports_timescale_marks": True,
        "supports_time": True,
        "exchanges": [{"value": "", "name": "All Exchanges", "desc": ""}]
        + [{"value": e, "name": e, "desc": e} for e in exchanges],
        "symbols_types": [{"name": "All types", "value": ""}, {"name": "Crypto", "value": SYMBOL_TYPE}],
    }
