"""Create the topics of ``schemas.topics`` explicitly and idempotently."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas.topics import ALL_TOPICS, Topic

__all__ = ["ensure_topics"]


async def ensure_topics(bootstrap: str, topics: Iterable[Topic] = ALL_TOPICS,
                        replication_factor: int = 1) -> list[str]:
    """Create every missing topic; return the names created. Existing ones are left alone."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        created: list[str] = []
        for topic in missing:
            new = NewTopic(topic.name, topic.partitions, replication_factor,
                           topic_configs=topic.kafka_configs())
            try:
                await admin.create_topics([new])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass  # another runner got there first
        return created
    finally:
        await admin.close()
