"""Which symbols the ticks topic holds no tick of, asked of a real broker: the one
question that decides whether a feed lays down history, and the history it then lays.
A topic that holds records must never look empty (the restart bug: every `make run`
laid down 48 hours again)."""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from candleflow.kafka.config import KafkaConfig
from candleflow.sources.history import lay_down_history
from candleflow.sources.log_tail import symbols_without_ticks
from candleflow.sources.synthetic import SyntheticFeed
from candleflow.stack import StackInfo
from tests.fakes.collecting_sink import CollectingSink
from tests.harness import Names, create_topics
from tests.harness.engine import highwaters, publish

pytestmark = pytest.mark.integration

SYMBOLS = {"Coinbase:BTC/USD", "Kraken:ETH/USD", "Binance:DOGE/USDT"}


def tick(symbol: str, n: int) -> dict[str, object]:
    return {"symbol": symbol, "ts": 1_790_000_000_000 + n, "price": 100.0 + n, "qty": 1.0, "id": str(n)}


async def test_a_missing_topic_and_an_empty_one_hold_no_symbol(stack: StackInfo, names: Names) -> None:
    assert await symbols_without_ticks(KafkaConfig(stack.kafka_bootstrap), names.ticks_topic, SYMBOLS) == SYMBOLS
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 3})
    assert await symbols_without_ticks(KafkaConfig(stack.kafka_bootstrap), names.ticks_topic, SYMBOLS) == SYMBOLS


async def test_a_topic_with_ticks_holds_their_symbols_seen_by_a_fresh_process(stack: StackInfo, names: Names) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 1})  # one partition: neighbours share it
    await publish(stack.kafka_bootstrap, names.ticks_topic, [tick("Coinbase:BTC/USD", n) for n in range(50)])
    await publish(stack.kafka_bootstrap, names.ticks_topic, [tick("Other:X/USD", n) for n in range(3000)])
    missing = await symbols_without_ticks(KafkaConfig(stack.kafka_bootstrap), names.ticks_topic, SYMBOLS)
    assert missing == {"Kraken:ETH/USD", "Binance:DOGE/USDT"}


async def test_records_deleted_by_retention_are_not_held(stack: StackInfo, names: Names) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2})
    await publish(stack.kafka_bootstrap, names.ticks_topic, [tick(s, n) for s in SYMBOLS for n in range(20)])
    assert await symbols_without_ticks(KafkaConfig(stack.kafka_bootstrap), names.ticks_topic, SYMBOLS) == set()
    ends = await highwaters(stack.kafka_bootstrap, names.ticks_topic)
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_records(
            {TopicPartition(names.ticks_topic, p): RecordsToDelete(end) for p, end in ends.items() if end}
        )
    finally:
        await admin.close()
    assert sum(ends.values()) == 60, "the records were there before retention took them"
    assert await symbols_without_ticks(KafkaConfig(stack.kafka_bootstrap), names.ticks_topic, SYMBOLS) == SYMBOLS


async def test_a_partition_too_long_to_read_back_counts_as_holding(stack: StackInfo, names: Names) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 1})
    await publish(stack.kafka_bootstrap, names.ticks_topic, [tick("Other:X/USD", n) for n in range(3000)])
    everything = await symbols_without_ticks(KafkaConfig(stack.kafka_bootstrap), names.ticks_topic, SYMBOLS)
    assert everything == SYMBOLS, "read to its start, the partition holds none of them"
    capped = await symbols_without_ticks(
        KafkaConfig(stack.kafka_bootstrap), names.ticks_topic, SYMBOLS, max_records=1000
    )
    assert capped == set(), "not read to its start: nothing may be taken for empty"


async def test_history_goes_only_to_the_symbols_the_log_lacks(stack: StackInfo, names: Names) -> None:
    await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2})
    await publish(stack.kafka_bootstrap, names.ticks_topic, [tick("Coinbase:BTC/USD", n) for n in range(1, 11)])
    feed = SyntheticFeed(("Coinbase:BTC/USD", "Kraken:ETH/USD"), rate=20, seed=2)
    sink = CollectingSink()
    resume = {"Coinbase:BTC/USD": (110.0, 10)}
    trades = await lay_down_history(
        feed, sink, hours=2, kafka=KafkaConfig(stack.kafka_bootstrap), topic=names.ticks_topic, resume=resume
    )
    assert sink.ticks and {t.symbol for t in sink.ticks} == {"Kraken:ETH/USD"}
    following = [next(trades) for _ in range(40)]
    btc = [int(t.id) for t in following if t.symbol == "Coinbase:BTC/USD"]
    eth = [int(t.id) for t in following if t.symbol == "Kraken:ETH/USD"]
    assert btc[0] == 11, "the symbol the log holds goes on from its newest trade"
    assert eth[0] == int(sink.ticks[-1].id or 0) + 1, "the new symbol goes on from its history"
    first_btc = next(t for t in following if t.symbol == "Coinbase:BTC/USD")
    assert abs(first_btc.price / 110.0 - 1) < 0.01, "and from its price"
