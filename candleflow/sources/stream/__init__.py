"""The life of an exchange's websocket, shared by every exchange: connect, subscribe
within the venue's limits, answer pings, notice silence, reconnect with capped backoff,
and fill what a reconnect missed from the venue's REST trades."""
