"""`candleflow db verify` as a real subprocess against the real broker and database:
silent (exit 0) after the engine absorbed a tick log, and listing exactly the rows a
test corrupted (exit 1) afterwards."""

from __future__ import annotations

import asyncio
import re
import subprocess
from typing import Any

import asyncpg
import pytest

from tests.harness import engine as harness
from tests.harness.kafka import create_topics
from tests.harness.tickgen import generate
from tests.harness.worker import candleflow_executable

pytestmark = pytest.mark.integration

PARTITIONS = 3


def run_verify(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [candleflow_executable(), "db", "verify", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def listed(stdout: str) -> set[tuple[str, str, str, str]]:
    """(symbol, resolution, bucket, difference) of every row of the table."""
    rows = set()
    for line in stdout.splitlines()[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) >= 4 and ":" in cells[0]:
            rows.add((cells[0], cells[1], cells[2], cells[3]))
    return rows


def iso(ms: int) -> str:
    from candleflow.domain.instants import iso as to_iso

    return to_iso(ms)


async def test_verify_is_silent_then_lists_exactly_the_corrupted_rows(
    stack: Any, names: Any, database_url: str, worker_factory: Any
) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: PARTITIONS, names.dead_topic: PARTITIONS})
    ticks = generate(6_000, days=2.0, seed=41, late_fraction=0.05)
    await harness.publish(stack.kafka_bootstrap, names.ticks_topic, [*ticks, b"{not json"])
    env = names.env(stack, database_url, CANDLEFLOW_TICKS_PARTITIONS=str(PARTITIONS))
    worker = worker_factory.start(env)
    await asyncio.to_thread(worker.wait_ready)
    await harness.wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic)
    worker.terminate()

    clean = await asyncio.to_thread(run_verify, env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no differences" in clean.stdout

    conn = await asyncpg.connect(database_url)
    try:
        changed = await conn.fetch(
            "UPDATE bars SET close = close + 1 WHERE (symbol, resolution, bucket) IN ("
            " SELECT symbol, resolution, bucket FROM bars WHERE resolution IN ('1', '60', '1D')"
            " ORDER BY md5(symbol || resolution || bucket::text) LIMIT 3)"
            " RETURNING symbol, resolution, (extract(epoch from bucket) * 1000)::bigint AS bucket"
        )
        deleted = await conn.fetchrow(
            "DELETE FROM bars WHERE (symbol, resolution, bucket) = ("
            " SELECT symbol, resolution, bucket FROM bars WHERE resolution = '5' ORDER BY bucket LIMIT 1)"
            " RETURNING symbol, resolution, (extract(epoch from bucket) * 1000)::bigint AS bucket"
        )
        extra = await conn.fetchrow(
            "INSERT INTO bars (symbol, resolution, bucket, open, high, low, close, volume, trades,"
            " open_ts, open_seq, close_ts, close_seq)"
            " VALUES ('Coinbase:BTC/USD', '15', timestamptz '2020-01-01 00:15:00+00', 1, 1, 1, 1, 1, 1,"
            " 1577837700000, 0, 1577837700000, 0)"
            " RETURNING symbol, resolution, (extract(epoch from bucket) * 1000)::bigint AS bucket"
        )
    finally:
        await conn.close()
    assert len(changed) == 3 and deleted is not None and extra is not None

    dirty = await asyncio.to_thread(run_verify, env)
    assert dirty.returncode == 1, dirty.stdout + dirty.stderr
    expected = {(r["symbol"], r["resolution"], iso(r["bucket"]), "wrong") for r in changed}
    expected.add((deleted["symbol"], deleted["resolution"], iso(deleted["bucket"]), "missing"))
    expected.add((extra["symbol"], extra["resolution"], iso(extra["bucket"]), "extra"))
    assert listed(dirty.stdout) == expected, dirty.stdout
    wrong_fields = [line for line in dirty.stdout.splitlines() if "  wrong  " in line]
    assert len(wrong_fields) == 3 and all("  close  " in line for line in wrong_fields), dirty.stdout

    # The window and symbol filters narrow what is compared.
    symbol = deleted["symbol"]
    narrowed = await asyncio.to_thread(
        run_verify, env, "--symbols", symbol, "--since", str(deleted["bucket"]), "--until", str(deleted["bucket"] + 1)
    )
    assert narrowed.returncode == 1
    assert listed(narrowed.stdout) == {(symbol, deleted["resolution"], iso(deleted["bucket"]), "missing")}

    bad = await asyncio.to_thread(run_verify, env, "--since", "yesterday")
    assert bad.returncode == 2
    assert "ISO 8601" in bad.stderr
