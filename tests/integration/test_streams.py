"""The shared Kafka entrypoint pieces, on a real broker: a follower reads whole topics from
their beginning, is ready once it reached the end they had, keeps following, skips what is
not an event, and after a failure starts again from the beginning without losing a record;
``read_to_end`` returns exactly what is there."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka import AIOKafkaProducer

from infra.kafka.topics import ensure_topics
from schemas.events import ClockTicked, Event, encode_event
from schemas.streams import TopicFollower, partitions, read_to_end
from schemas.topics import Topic
from tests.support import budget, eventually, unique

pytestmark = pytest.mark.integration


def _tick(by: str) -> bytes:
    return encode_event(ClockTicked(partition=0, by=by))[0]


async def test_a_follower_reads_from_the_beginning_skips_garbage_and_survives_a_failure(
    kafka_bootstrap: str,
) -> None:
    topic = Topic(unique("test.follow"), key="model", partitions=2, compacted=True)
    await ensure_topics(kafka_bootstrap, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for i in range(6):
            await producer.send_and_wait(topic.name, _tick(f"m{i}"), key=b"k", partition=i % 2)
        await producer.send_and_wait(topic.name, b"not an event", key=b"junk", partition=0)
        await producer.send_and_wait(topic.name, None, key=b"gone", partition=1)
        seen: list[str] = []
        fail_once = {"m3"}

        def apply(event: Event) -> None:
            assert isinstance(event, ClockTicked)
            if event.by in fail_once:  # a bug while applying: the follower restarts
                fail_once.clear()
                raise RuntimeError("could not apply m3")
            seen.append(event.by)

        follower = TopicFollower("test", kafka_bootstrap, [topic], apply, logging.getLogger())
        follower.retry_s = 0.05
        await follower.start()
        try:
            await asyncio.wait_for(follower.ready.wait(), budget(20))
            assert follower.failures_in_a_row == 0 and "could not apply m3" in follower.last_error
            assert {f"m{i}" for i in range(6)} <= set(seen)
            assert follower.skipped >= 2  # the garbage and the tombstone, once per pass
            await producer.send_and_wait(topic.name, _tick("later"), key=b"k", partition=1)
            await eventually(lambda: asyncio.sleep(0, seen), lambda s: "later" in s)
        finally:
            await follower.stop()
    finally:
        await producer.stop()
    records = await read_to_end(kafka_bootstrap, partitions(topic))
    assert len(records) == 9
