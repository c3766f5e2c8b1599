"""Replay benchmark: ticks/s of `candleflow replay`'s fast path (bulk read + in-memory
aggregation of `ticks.raw`) and of a whole run into an empty database (staging COPY,
indicators, swap included), beside a bare aiokafka consumer reading (and JSON-decoding)
the same topic in the same run. The live engine's rate is `bench_engine`'s figure.

    python -m bench.bench_replay [--ticks N]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import time
import uuid
from dataclasses import replace

from bench.bench_engine import bare_consumer, fresh_database, publish, tick_records
from bench.common import Figure, median
from candleflow.core.settings import Settings
from candleflow.domain.fold import TickFolder
from candleflow.kafka.config import KafkaConfig
from candleflow.kafka.log_reader import LogReader, Span
from candleflow.maintenance.rebuild.run import Options, replay
from candleflow.stack import StackInfo


async def fast_path(bootstrap: str, topic: str) -> tuple[float, int]:
    """(seconds, records) of reading the whole topic into 1-second bars and rolling them up."""
    builder = TickFolder(future_tolerance_s=1e9)
    async with LogReader(KafkaConfig(bootstrap), topic) as reader:
        begins, ends = await reader.bounds()
        started = time.perf_counter()
        count = await reader.read({p: Span(begins[p], ends[p]) for p in ends}, lambda _p, records: builder.add(records))
        builder.finish()
        return time.perf_counter() - started, count


async def whole_run(info: StackInfo, topic: str) -> float:
    """Records/s of a complete `candleflow replay` into a fresh database."""
    settings = replace(
        Settings(),
        kafka_bootstrap=info.kafka_bootstrap,
        database_url=await fresh_database(info),
        ticks_topic=topic,
        app_id=f"bench-replay-{uuid.uuid4().hex[:8]}",
        future_tolerance=1e9,
    )
    started = time.perf_counter()
    summary = await replay(settings, Options(), io.StringIO())
    return summary.records / (time.perf_counter() - started)


async def run(info: StackInfo, ticks: int = 500_000, repeats: int = 3) -> list[Figure]:
    topic = f"bench.replay.{uuid.uuid4().hex[:8]}"
    await publish(info.kafka_bootstrap, topic, tick_records(ticks))
    bare: list[float] = []
    fast: list[float] = []
    for _ in range(repeats):  # interleaved, so both see the same machine load
        bare.append(ticks / await bare_consumer(info.kafka_bootstrap, topic, ticks))
        seconds, count = await fast_path(info.kafka_bootstrap, topic)
        fast.append(count / seconds)
    whole = [await whole_run(info, topic) for _ in range(max(1, repeats - 1))]
    return [
        Figure(
            "replay fast path",
            "ticks/s read + aggregated, 1 process",
            median(fast),
            "ticks/s",
            "bare aiokafka consumer",
            median(bare),
            ">= 200,000",
            fast,
            bare,
        ),
        Figure(
            "replay, whole run",
            "ticks/s into an empty database",
            median(whole),
            "ticks/s",
            "bare aiokafka consumer",
            median(bare),
            "report",
            whole,
            bare,
            note="staging COPY, indicators of every series and the swap included",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ticks", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    info = StackInfo.from_env() if hasattr(StackInfo, "from_env") else None
    if info is None:
        raise SystemExit('run `eval "$(candleflow stack up)"` first, or use `make bench`')
    for figure in asyncio.run(run(info, args.ticks, args.repeats)):
        print(figure.as_dict())


if __name__ == "__main__":
    main()
