import asyncio

from candleflow.batching import Batcher


async def test_flushes_when_full_and_when_the_oldest_item_is_old_enough() -> None:
    flushed: list[list[int]] = []

    async def flush(items: list[int]) -> None:
        flushed.append(items)

    batcher = Batcher(max_size=3, within=0.05, flush=flush)
    timer = asyncio.ensure_future(batcher.run_timer())
    try:
        for item in range(7):
            await batcher.add(item)
        assert flushed == [[0, 1, 2], [3, 4, 5]]
        for _ in range(100):
            if len(flushed) == 3:
                break
            await asyncio.sleep(0.02)
        assert flushed == [[0, 1, 2], [3, 4, 5], [6]]
    finally:
        timer.cancel()


async def test_a_slow_flush_holds_back_the_producer() -> None:
    gate = asyncio.Event()
    order: list[str] = []

    async def flush(items: list[int]) -> None:
        order.append(f"flush {items}")
        await gate.wait()

    batcher = Batcher(max_size=1, within=10, flush=flush)
    adding = asyncio.ensure_future(batcher.add(1))
    await asyncio.sleep(0.01)
    assert not adding.done()
    gate.set()
    await adding
    assert order == ["flush [1]"]
