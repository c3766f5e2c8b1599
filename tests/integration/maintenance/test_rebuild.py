"""`candleflow replay` as a real subprocess against the real broker and database: into
an empty database it gives the live engine's bars; beside a running worker it swaps
atomically and counts nothing twice; interrupted, it changes nothing; `--symbols` and
`--from` rebuild only what they name."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import subprocess
from typing import Any

import asyncpg
import pytest

from candleflow.domain.instants import parse_instant
from candleflow.maintenance.rebuild.window import cutoff
from tests.harness import engine as harness
from tests.harness.kafka import create_topics
from tests.harness.tickgen import generate
from tests.harness.waiting import eventually
from tests.harness.worker import candleflow_executable

pytestmark = pytest.mark.integration

PARTITIONS = 3


def clean_env(env: dict[str, str]) -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CANDLEFLOW_")}
    full.update(env)
    return full


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [candleflow_executable(), *args], env=clean_env(env), capture_output=True, text=True, timeout=300, check=False
    )


async def replay(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = await asyncio.to_thread(run_cli, env, "replay", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


async def live_worker(stack: Any, names: Any, database_url: str, worker_factory: Any, **extra: str) -> Any:
    env = names.env(stack, database_url, CANDLEFLOW_TICKS_PARTITIONS=str(PARTITIONS), **extra)
    worker = worker_factory.start(env)
    await asyncio.to_thread(worker.wait_ready)
    return worker


async def test_replay_into_an_empty_database_equals_the_live_result(
    stack: Any, names: Any, database_url: str, second_database: str, worker_factory: Any
) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: PARTITIONS, names.dead_topic: PARTITIONS})
    await harness.publish(stack.kafka_bootstrap, names.ticks_topic, [*generate(15_000, days=2.0, seed=5), b"{bad"])
    worker = await live_worker(stack, names, database_url, worker_factory)
    await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    worker.terminate()

    env = names.env(stack, second_database, CANDLEFLOW_TICKS_PARTITIONS=str(PARTITIONS))
    done = await replay(env)
    assert "15,001 records read" in done.stderr and "1 invalid" in done.stderr, done.stderr
    assert await harness.bars_digest(second_database) == await harness.bars_digest(database_url)
    assert await harness.stored_indicators(second_database) == await harness.stored_indicators(database_url)
    # The ledger now says the log is absorbed: a worker started afterwards adds nothing.
    await harness.wait_absorbed(second_database, names.app_id, stack.kafka_bootstrap, names.ticks_topic, within=5)
    verified = await asyncio.to_thread(run_cli, env, "db", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


async def bar_counts(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT symbol, count(*) AS n FROM bars WHERE resolution = '1' GROUP BY symbol")
    return {row["symbol"]: row["n"] for row in rows}


async def test_replay_beside_a_streaming_worker_counts_nothing_twice(
    stack: Any, names: Any, database_url: str, worker_factory: Any
) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: PARTITIONS, names.dead_topic: PARTITIONS})
    ticks = generate(36_000, days=2.0, seed=17, late_fraction=0.05)
    await harness.publish(stack.kafka_bootstrap, names.ticks_topic, ticks[:24_000])
    # The history is absorbed in the default batches (small ones take ~5x longer here);
    # the worker that streams beside the replay commits small batches, so that many of
    # its transactions interleave with the replay's.
    bulk = await live_worker(stack, names, database_url, worker_factory)
    await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    bulk.terminate()
    await live_worker(stack, names, database_url, worker_factory, CANDLEFLOW_BATCH_MAX="500")
    conn = await asyncpg.connect(database_url)
    await conn.execute("UPDATE bars SET close = close * 2 WHERE resolution IN ('1', '1D')")  # visibly wrong
    streaming = asyncio.ensure_future(
        harness.publish(stack.kafka_bootstrap, names.ticks_topic, ticks[24_000:], pace=0.25)
    )
    decreased: list[tuple[str, int, int]] = []
    stop = asyncio.Event()

    samples: list[int] = []

    async def poll() -> None:
        last = await bar_counts(conn)
        while not stop.is_set():
            samples.append(len(last))
            now = await bar_counts(conn)
            decreased.extend((s, n, now.get(s, 0)) for s, n in last.items() if now.get(s, 0) < n)
            last = now
            await asyncio.sleep(0.02)

    poller = asyncio.ensure_future(poll())
    try:
        await eventually(lambda: samples, 10, what="the poller watches the bar counts")
        env = names.env(stack, database_url, CANDLEFLOW_TICKS_PARTITIONS=str(PARTITIONS))
        done = await replay(env)
        await streaming
    finally:
        stop.set()
        await poller
        await conn.close()
    assert not decreased, f"a rebuilt symbol lost bars at some moment: {decreased[:5]}"
    await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    await harness.assert_matches_log(stack.kafka_bootstrap, names.ticks_topic, database_url)
    assert "records caught up" in done.stderr


async def test_an_interrupted_replay_changes_nothing_and_the_next_run_completes(
    stack: Any, names: Any, database_url: str, worker_factory: Any
) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: PARTITIONS})
    await harness.publish(stack.kafka_bootstrap, names.ticks_topic, generate(30_000, days=3.0, seed=29))
    worker = await live_worker(stack, names, database_url, worker_factory)
    await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    worker.terminate()
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE bars SET volume = volume + 1 WHERE resolution = '5'")
        before = await harness.bars_digest(database_url)
        interrupted = 0
        env = clean_env(names.env(stack, database_url, CANDLEFLOW_TICKS_PARTITIONS=str(PARTITIONS)))
        # SIGINT while the bars are staged, SIGKILL while the indicators are: both before the swap.
        for sig, table in ((signal.SIGINT, "rebuild_bars"), (signal.SIGKILL, "rebuild_indicators")):
            process = await asyncio.create_subprocess_exec(
                candleflow_executable(), "replay", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )

            async def staged_or_done(table: str = table, process: Any = process) -> bool:
                return process.returncode is not None or bool(await conn.fetchval(f"SELECT count(*) FROM {table}"))

            await eventually(staged_or_done, 60, interval=0.005, what=f"the replay fills {table} (or ends)")
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
            await process.communicate()
            if process.returncode != 0:
                assert await harness.bars_digest(database_url) == before, "an interrupted replay changed the bars"
                interrupted += 1
            else:
                before = await harness.bars_digest(database_url)  # it finished first: nothing to compare
    finally:
        await conn.close()
    assert interrupted, "the replay finished before it could be interrupted"
    await replay(names.env(stack, database_url, CANDLEFLOW_TICKS_PARTITIONS=str(PARTITIONS)))
    await harness.assert_matches_log(stack.kafka_bootstrap, names.ticks_topic, database_url)


async def test_symbols_and_from_rebuild_only_what_they_name(
    stack: Any, names: Any, database_url: str, worker_factory: Any
) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: PARTITIONS})
    end = parse_instant("2024-12-20T00:00:00Z")
    await harness.publish(
        stack.kafka_bootstrap, names.ticks_topic, generate(12_000, days=50.0, seed=37, end_ms=end, late_fraction=0.02)
    )
    worker = await live_worker(stack, names, database_url, worker_factory)
    await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    worker.terminate()
    good = await harness.stored_bars(database_url)
    good_values, _ = await harness.stored_indicators(database_url)
    since = "2024-12-10T12:00:00Z"
    cut = cutoff(parse_instant(since))
    assert cut == parse_instant("2024-11-25T00:00:00Z")
    target, other = "Coinbase:BTC/USD", "Coinbase:ETH/USD"
    conn = await asyncpg.connect(database_url)
    try:
        corrupted = await conn.fetch(
            "UPDATE bars SET high = high + 1 WHERE (symbol, resolution, bucket) IN ("
            " SELECT symbol, resolution, bucket FROM bars WHERE symbol = ANY($1::text[]) AND resolution = '1'"
            " ORDER BY md5(symbol || bucket::text) LIMIT 40)"
            " RETURNING symbol, resolution, (extract(epoch from bucket) * 1000)::bigint AS bucket",
            [target, other],
        )
        await conn.execute(
            "DELETE FROM bars WHERE symbol = $1 AND resolution = '1D' AND bucket >= '2024-12-01'", target
        )
    finally:
        await conn.close()
    keys = {(r["symbol"], r["resolution"], r["bucket"]) for r in corrupted}
    assert {k for k in keys if k[0] == target and k[2] >= cut} and {k for k in keys if k[0] == target and k[2] < cut}
    assert {k for k in keys if k[0] == other and k[2] >= cut}

    env = names.env(stack, database_url, CANDLEFLOW_TICKS_PARTITIONS=str(PARTITIONS))
    await replay(env, "--symbols", target, "--from", since)
    after = await harness.stored_bars(database_url)
    for key in keys:
        fixed = key[0] == target and key[2] >= cut
        assert (after[key] == good[key]) is fixed, (key, fixed, after[key], good[key])
    assert {k: v for k, v in after.items() if k[0] == target and k[1] == "1D"} == {
        k: v for k, v in good.items() if k[0] == target and k[1] == "1D"
    }
    # Indicators from the cutoff on equal the live ones where no older bar was corrupted.
    values, _ = await harness.stored_indicators(database_url)
    rebuilt = {k: v for k, v in values.items() if k[0] == target and k[1] != "1" and k[4] >= cut}
    assert rebuilt and all(math.isclose(v, good_values[k], rel_tol=1e-12) for k, v in rebuilt.items())
    assert rebuilt.keys() == {k for k in good_values if k[0] == target and k[1] != "1" and k[4] >= cut}

    bad = await asyncio.to_thread(run_cli, env, "replay", "--from", "yesterday")
    assert bad.returncode == 2 and "ISO 8601" in bad.stderr
