"""`EngineRunner`'s decisions, on an engine whose store refuses chosen records: outages are
waited out and nothing is isolated; refused records are found by splitting, dead-lettered
alone and in log order, and everything else is stored exactly once, in order. (On the real
database: `tests/integration/engine/test_poison.py`.)"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from candleflow.core.engine_status import EngineStatus
from candleflow.engine.bar_engine import BarEngine, BatchResult
from candleflow.engine.failures import FAULT_RETRIES
from candleflow.engine.prepare import Prepared
from candleflow.engine.runner import EngineRunner
from candleflow.kafka.log_reader import Record


class Store:
    """A ledger and what was stored: the offsets absorbed and dead-lettered, in order."""

    def __init__(self) -> None:
        self.next: dict[int, int] = {}
        self.absorbed: list[tuple[int, int]] = []
        self.dead: list[tuple[int, int, str]] = []


class Engine:
    """What the runner uses of a `BarEngine`; `refuse(record)` says what the store or the
    decoder raises for a record (None: it takes it), and `outages` fail that many commits."""

    def __init__(self, refuse: Any, outages: int = 0, in_prepare: bool = False) -> None:
        self.status = EngineStatus()
        self.topic = "ticks.raw"
        self.store = Store()
        self.refuse = refuse
        self.outages = outages
        self.in_prepare = in_prepare
        self.commits = 0
        #: set once three commits were tried
        self.retried = asyncio.Event()

    def prepare(self, records: Sequence[Record], floor: Any = None, refused: str | None = None) -> Prepared:
        prepared = Prepared(records=records, refused=refused)
        if self.in_prepare and refused is None:
            errors = [e for e in map(self.refuse, records) if e is not None]
            prepared.error = errors[0] if errors else None
        return prepared

    async def commit(self, prepared: Prepared) -> BatchResult:
        self.commits += 1
        if self.commits >= 3:
            self.retried.set()
        if prepared.error is not None:
            raise prepared.error
        if self.outages:
            self.outages -= 1
            raise ConnectionRefusedError(111, "Connect call failed")
        fresh = [r for r in prepared.records if r.offset >= self.store.next.get(r.partition, 0)]
        if prepared.refused is None:
            for record in fresh:
                error = self.refuse(record)
                if error is not None:
                    raise error
        result = BatchResult()
        for record in fresh:
            if prepared.refused is None:
                self.store.absorbed.append((record.partition, record.offset))
                result.absorbed += 1
            else:
                self.store.dead.append((record.partition, record.offset, prepared.refused))
                result.rejected += 1
            self.store.next[record.partition] = record.offset + 1
        return result


def records(count: int, partitions: int = 3) -> list[Record]:
    """A batch as the reader gathers it: each partition's records in offset order."""
    return [Record(p, o, None, b"{}") for p in range(partitions) for o in range(count)]


async def run(engine: Engine, batch: list[Record]) -> BatchResult:
    runner = EngineRunner(cast(BarEngine, engine), max_backoff=0.01)
    return await runner.run_prepared(engine.prepare(batch))


def overflow() -> asyncpg.PostgresError:
    error = asyncpg.PostgresError.new({"C": "22003", "M": "value out of range: overflow"})
    assert isinstance(error, asyncpg.PostgresError)
    return error


@settings(max_examples=80)
@given(st.integers(1, 60), st.sets(st.tuples(st.integers(0, 2), st.integers(0, 59)), max_size=6))
async def test_refused_records_alone_are_dead_lettered_and_the_rest_stored_in_order(
    count: int, refused: set[tuple[int, int]]
) -> None:
    engine = Engine(lambda r: overflow() if (r.partition, r.offset) in refused else None)
    batch = records(count)
    result = await run(engine, batch)
    expected_dead = [(r.partition, r.offset) for r in batch if (r.partition, r.offset) in refused]
    assert [(p, o) for p, o, _ in engine.store.dead] == expected_dead
    assert all("the store refused it: NumericValueOutOfRangeError (22003)" in why for *_, why in engine.store.dead)
    assert engine.store.absorbed == [(r.partition, r.offset) for r in batch if (r.partition, r.offset) not in refused]
    assert (result.absorbed, result.rejected) == (len(batch) - len(expected_dead), len(expected_dead))
    assert engine.status.store_refused == len(expected_dead)


async def test_an_outage_is_waited_out_and_isolates_nothing() -> None:
    engine = Engine(lambda r: None, outages=4)
    result = await run(engine, records(10))
    assert (result.absorbed, result.rejected, engine.commits) == (30, 0, 5)
    assert engine.status.outage is None and engine.status.last_error is None


async def test_an_outage_is_shown_while_it_lasts() -> None:
    engine = Engine(lambda r: None, outages=10**9)
    task = asyncio.ensure_future(run(engine, records(2)))
    try:
        await asyncio.wait_for(engine.retried.wait(), 30)
        assert "ConnectionRefusedError" in (engine.status.outage or "")
        assert engine.status.outage_since is not None and not engine.store.dead
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_fault_is_retried_a_few_times_then_isolated() -> None:
    engine = Engine(lambda r: TypeError("engine bug") if r.offset == 3 and r.partition == 0 else None)
    await run(engine, records(5, partitions=1))
    assert [(p, o) for p, o, _ in engine.store.dead] == [(0, 3)]
    assert engine.commits >= FAULT_RETRIES


async def test_a_record_the_decoder_chokes_on_is_isolated_like_a_refused_one() -> None:
    engine = Engine(lambda r: ValueError("cannot fold") if r.offset == 7 else None, in_prepare=True)
    await run(engine, records(10, partitions=2))
    assert [(p, o) for p, o, _ in engine.store.dead] == [(0, 7), (1, 7)]
    assert len(engine.store.absorbed) == 18
