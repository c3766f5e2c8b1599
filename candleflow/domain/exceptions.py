"""Errors candleflow raises on purpose, each with a message that says what to do."""


class CandleflowError(Exception):
    """Base of every error candleflow raises deliberately."""


class ConfigError(CandleflowError):
    """A setting is missing or malformed; the message names the variable."""


class Unavailable(CandleflowError):
    """A service candleflow needs (Kafka, PostgreSQL) cannot be reached or refuses the login."""


class InvalidSymbol(CandleflowError, ValueError):
    """A symbol is not written `Exchange:BASE/QUOTE`."""


class InvalidResolution(CandleflowError, ValueError):
    """A resolution string is unknown or unsupported."""


class InvalidTick(CandleflowError, ValueError):
    """A record cannot be a trade; the message is the dead-letter reason."""
