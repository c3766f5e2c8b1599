"""Domain types every layer shares, pure (no I/O, no settings).

Symbols, ticks, resolutions, bars and the fold of ticks into bars, instants, the
`bars.updates` wire format, and the errors candleflow raises on purpose.
"""
