"""LibrarySymbolInfo, search matching and the datafeed configuration."""

from __future__ import annotations

from candleflow.domain.resolution import SUPPORTED_CODES
from candleflow.store.queries import SymbolRow
from candleflow.web import symbol_info
from candleflow.web.udf import no_data

BTC = SymbolRow("Coinbase:BTC/USD", "Coinbase", "BTC", "USD", 2)
ETH = SymbolRow("Kraken:ETH/USD", "Kraken", "ETH", "USD", 1)


def test_library_symbol_info_is_complete() -> None:
    info = symbol_info.library_symbol_info(BTC)
    assert info["pricescale"] == 100
    assert info["ticker"] == info["full_name"] == "Coinbase:BTC/USD"
    assert info["supported_resolutions"] == list(SUPPORTED_CODES)
    assert info["seconds_multipliers"] == ["1"]
    assert info["intraday_multipliers"] == ["1", "5", "15", "30", "60", "240"]
    for key in ("has_intraday", "has_seconds", "has_daily", "has_weekly_and_monthly"):
        assert info[key] is True
    assert (info["session"], info["timezone"], info["type"]) == ("24x7", "Etc/UTC", "crypto")


def test_search_matching_is_case_insensitive_and_filtered() -> None:
    assert symbol_info.matches(BTC, "btc", "", "")
    assert symbol_info.matches(ETH, "kraken", "", "")
    assert symbol_info.matches(ETH, "", "KRAKEN", "crypto")
    assert not symbol_info.matches(ETH, "", "Coinbase", "")
    assert not symbol_info.matches(BTC, "", "", "stock")
    assert symbol_info.search_rank(BTC, "btc") < symbol_info.search_rank(ETH, "usd")


def test_config_lists_exchanges_present() -> None:
    config = symbol_info.config(["Coinbase", "Kraken"])
    assert [e["value"] for e in config["exchanges"]] == ["", "Coinbase", "Kraken"]
    assert config["supports_search"] and not config["supports_group_request"]


def test_no_data() -> None:
    assert no_data(None) == {"s": "no_data"}
    assert no_data(60) == {"s": "no_data", "nextTime": 60}
