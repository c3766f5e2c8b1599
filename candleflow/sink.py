"""The engine's Kafka output: dead letters and bar updates, on a plain aiokafka producer.

Faust's `topic.send` costs a coroutine and a future per message; the engine sends a
whole batch at once, so it drives an `AIOKafkaProducer` directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from candleflow.settings import Settings


class KafkaSink:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.settings.kafka_bootstrap,
                    linger_ms=5,
                    max_batch_size=1_048_576,
                    acks="all",
                    enable_idempotence=True,
                )
                await producer.start()
                self._producer = producer
            return self._producer

    async def _send_all(self, topic: str, records: Sequence[tuple[bytes | None, bytes]]) -> None:
        if not records:
            return
        producer = await self.producer()
        futures = [await producer.send(topic, value=value, key=key) for key, value in records]
        await asyncio.gather(*futures)

    async def dead_letters(self, records: Sequence[tuple[bytes | None, bytes]]) -> None:
        await self._send_all(self.settings.dead_topic, records)

    async def bar_updates(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        await self._send_all(self.settings.updates_topic, records)

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
