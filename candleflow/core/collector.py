"""The garbage collector of a long-running process, set for a stream of short-lived objects.

A worker allocates a great many objects per batch (records, ticks' columns, bars, rows)
that die with the batch, and holds a large, stable heap from start-up (Faust, aiokafka,
asyncpg, the app). With CPython's defaults, a young collection runs every 700
allocations and every tenth of those also walks the older generation, so the stable
heap is scanned again and again for nothing: `settle` made the engine benchmark
(`bench/bench_engine.py`) measurably faster, and `bench/bench_functions.py` runs its
engines under it too, as a worker does.
Cycles are still collected, only in larger steps; memory stays bounded (the memory soak
of `make bench` measures it).
"""

from __future__ import annotations

import gc

#: Allocations between young collections (CPython's default: 700).
YOUNG = 50_000


def settle() -> None:
    """Move everything alive now out of the collector's sight and collect young objects
    less often; call once the process has built what it keeps."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, old)
