"""The keyless exchanges by source name: `SPECS["binance"]` is all a source needs to run
Binance (the CoinDesk Data streamer needs a key: `coindesk.coindesk_spec`)."""

from __future__ import annotations

from candleflow.sources.exchanges import binance, bitstamp, coinbase, kraken, okx
from candleflow.sources.stream.protocol import ExchangeSpec

SPECS: dict[str, ExchangeSpec] = {
    spec.venue.key: spec for spec in (binance.SPEC, coinbase.SPEC, kraken.SPEC, okx.SPEC, bitstamp.SPEC)
}
