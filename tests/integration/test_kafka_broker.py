"""The real broker does what billing and the gateway rely on: transactions and compaction."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from infra.kafka.topics import ensure_topics
from schemas.topics import ALL_TOPICS, Topic
from tests.support import eventually, read_all, unique

pytestmark = pytest.mark.integration


async def test_registry_topics_exist_with_their_policies(kafka_bootstrap: str) -> None:
    assert await ensure_topics(kafka_bootstrap) == []  # idempotent: all there already
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = {
            t["topic"]: t for t in await admin.describe_topics([t.name for t in ALL_TOPICS])
        }
        for topic in ALL_TOPICS:
            assert len(described[topic.name]["partitions"]) == topic.partitions
    finally:
        await admin.close()


async def test_transaction_commits_output_and_offsets_together(kafka_bootstrap: str) -> None:
    source, sink, group = unique("tx-in"), unique("tx-out"), unique("tx-group")
    await ensure_topics(kafka_bootstrap, [Topic(source, "k", 2), Topic(sink, "k", 2)])
    plain = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await plain.start()
    for i in range(10):
        await plain.send_and_wait(source, f"in-{i}".encode(), key=f"acct-{i % 3}".encode())
    await plain.stop()

    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=unique("tx"))
    await consumer.start()
    await producer.start()
    try:
        seen: list[ConsumerRecord[bytes, bytes]] = []

        async def poll() -> int:
            for chunk in (await consumer.getmany(timeout_ms=300)).values():
                seen.extend(chunk)
            return len(seen)

        await eventually(poll, lambda n: n == 10, what="10 input records")
        async with producer.transaction():
            for record in seen:
                await producer.send(sink, record.value.replace(b"in", b"out"), key=record.key)
            offsets = {}
            for record in seen:
                tp = TopicPartition(record.topic, record.partition)
                offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
            await producer.send_offsets_to_transaction(offsets, group)
        # An aborted transaction must stay invisible to read_committed readers.
        await producer.begin_transaction()
        await producer.send(sink, b"aborted", key=b"acct-0")
        await producer.abort_transaction()
    finally:
        await producer.stop()
        await consumer.stop()

    committed = sorted(r.value for r in await read_all(kafka_bootstrap, sink, "read_committed"))
    assert committed == sorted(f"out-{i}".encode() for i in range(10))
    uncommitted = [r.value for r in await read_all(kafka_bootstrap, sink, "read_uncommitted")]
    assert b"aborted" in uncommitted

    check = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await check.start()
    try:
        total = 0
        for partition in range(2):
            total += await check.committed(TopicPartition(source, partition)) or 0
        assert total == 10  # the group's offsets moved with the transaction
    finally:
        await check.stop()


async def test_compacted_topic_keeps_the_last_value_per_key(kafka_bootstrap: str) -> None:
    name = unique("compacted")
    configs = {
        "segment.ms": "100",
        "min.cleanable.dirty.ratio": "0.01",
        "delete.retention.ms": "100",
        "min.compaction.lag.ms": "0",
    }
    await ensure_topics(kafka_bootstrap, [Topic(name, "k", 1, compacted=True, configs=configs)])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=0)
    await producer.start()
    try:
        for i in range(50):
            for key in (b"acct-a", b"acct-b"):
                await producer.send_and_wait(name, f"{key.decode()}-v{i}".encode(), key=key)

        async def snapshot() -> list[tuple[bytes | None, bytes | None]]:
            # A later write rolls the segment so the cleaner may compact the earlier ones.
            await producer.send_and_wait(name, b"tick", key=b"tick")
            await asyncio.sleep(0.2)
            return [
                (r.key, r.value) for r in await read_all(kafka_bootstrap, name, "read_committed")
            ]

        def compacted(records: list[tuple[bytes | None, bytes | None]]) -> bool:
            return sum(1 for k, _ in records if k in (b"acct-a", b"acct-b")) == 2

        records = await eventually(
            snapshot, compacted, timeout=60, interval=0.5, what="the cleaner compacting the topic"
        )
        latest = {k: v for k, v in records if k != b"tick"}
        assert latest == {b"acct-a": b"acct-a-v49", b"acct-b": b"acct-b-v49"}
    finally:
        await producer.stop()
