"""Exchange feed decoding: trades per second one source client turns from frames into
published ticks, against a bare `json.loads` of the same frames.

    python -m bench.bench_sources [--trades 200000]

For each venue the frames are the ones its local test server sends (`tests.fakes.exchanges`,
written from the venue's documentation), batched as the venue batches them. The client
side is what a connection does per frame once it is read off the socket: the venue
protocol's `parse` into ticks, then the shared gate (duplicate filter, health figures)
into a sink that keeps nothing. The baseline is the standard library's `json.loads` of
each frame and nothing else. Target: at least half the baseline's trades per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from bench.common import Figure
from candleflow.domain.ticks import Tick
from candleflow.domain.venues import Spellings
from candleflow.sources.gate import TradeGate
from candleflow.sources.stream.events import Trades
from tests.fakes.exchanges.cases import CASES, Case

#: Trades per frame, as each venue batches them (Coinbase every 250 ms, Kraken per update).
BATCH = {"binance": 1, "coinbase": 5, "kraken": 3, "okx": 2, "bitstamp": 1, "coindesk": 1}


class NullSink:
    async def publish(self, tick: Tick) -> None:
        return None

    async def reject(self, raw: bytes | str, reason: str) -> None:
        return None


async def decode(case: Case, batch: list[str]) -> tuple[int, float]:
    protocol = case.spec().protocol("ws://127.0.0.1:1/", Spellings(case.spec().venue, case.symbols), case.spec().limits)
    gate = TradeGate(NullSink())
    published = 0
    started = time.perf_counter()
    for frame in batch:
        for event in protocol.parse(frame):
            if type(event) is Trades:
                published += await gate.publish_all(case.kind, event.ticks)
    return published, time.perf_counter() - started


def bare(batch: list[str]) -> float:
    started = time.perf_counter()
    for frame in batch:
        json.loads(frame)
    return time.perf_counter() - started


def run(trades: int = 200_000, repeats: int = 3) -> list[Figure]:
    figures = []
    for kind, case in CASES.items():
        batch = case.frames(trades, BATCH[kind])
        ours, theirs = [], []
        for _ in range(repeats):
            published, seconds = asyncio.run(decode(case, batch))
            assert published == trades, f"{kind}: {published} of {trades} trades decoded"
            ours.append(trades / seconds)
            theirs.append(trades / bare(batch))
        ours.sort()
        theirs.sort()
        figures.append(
            Figure("sources", f"{kind} frames decoded and gated", ours[len(ours) // 2], "trades/s",
                   "bare json.loads of the frames", theirs[len(theirs) // 2], ">= 0.5x", ours, theirs)
        )  # fmt: skip
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trades", type=int, default=200_000)
    args = parser.parse_args()
    for figure in run(args.trades):
        assert figure.ratio is not None
        print(
            f"{figure.figure}: {figure.value:,.0f} trades/s, json.loads {figure.baseline:,.0f}/s, {figure.ratio:.2f}x"
        )


if __name__ == "__main__":
    main()
