"""candleflow: a self-hosted real-time datafeed for TradingView charts."""

__version__ = "0.1.0"
