"""Writes commands (and price changes) for the admin API: idempotent, acknowledged."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from schemas.events import Event, encode_event
from schemas.topics import Topic

__all__ = ["KafkaPublisher"]


class KafkaPublisher:
    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # Created here, not in __init__: aiokafka objects need the running loop.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap, enable_idempotence=True, acks="all"
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def publish(self, topic: Topic, key: str, event: Event) -> None:
        if self._producer is None:
            raise RuntimeError("publisher not started")
        value, headers = encode_event(event)
        await self._producer.send_and_wait(topic.name, value, key=key.encode(), headers=headers)
