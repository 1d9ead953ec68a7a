"""Kafka -> ClickHouse: batches by size or time, offsets committed only after the rows landed.

Flush order, and what a failure at each step means:

1. decode the batch; malformed or unknown events go to ``tollway.dead-letter``
   with the reason (failure here: nothing written, nothing committed; the
   batch is read again);
2. insert the rows into ClickHouse, one INSERT per table (failure: the insert
   is retried; offsets are not committed, so a crash re-reads the batch);
3. commit the Kafka offsets (failure or crash before it: the batch is read and
   inserted again; the tables drop the copies by ``event_id``, which is the
   last column of their sorting key, and every report reads with FINAL, so
   no report changes).

Nothing is committed before ClickHouse has the rows, so nothing is lost;
re-inserting is harmless, so nothing is counted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.events import Event, decode_event
from schemas.topics import DEAD_LETTER, LEDGER, REQUESTS

from ..domain.rows import LEDGER_COLUMNS, REQUEST_COLUMNS, rows_of
from .clickhouse import ClickHouse

__all__ = ["MeteringSink"]

log = logging.getLogger("tollway.metering.sink")
GROUP = "tollway-metering"


class MeteringSink:
    def __init__(
        self,
        bootstrap: str,
        clickhouse: ClickHouse,
        max_batch: int = 20000,
        max_wait_s: float = 0.25,
    ) -> None:
        self.bootstrap, self.clickhouse = bootstrap, clickhouse
        self.max_batch, self.max_wait_s = max_batch, max_wait_s
        self.rows_written = 0
        self.dead_lettered = 0
        self.last_flush: float | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="metering-sink")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def lag(self) -> dict[str, int]:
        """Records behind the end of each topic, summed over partitions."""
        consumer = self._consumer
        if consumer is None:
            return {}
        lag: dict[str, int] = {}
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is None:
                continue
            position = await consumer.position(tp)
            lag[tp.topic] = lag.get(tp.topic, 0) + max(end - position, 0)
        return lag

    async def _run(self) -> None:
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("metering sink failed; restarting it")
                await asyncio.sleep(1)

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            REQUESTS.name,
            LEDGER.name,
            bootstrap_servers=self.bootstrap,
            group_id=GROUP,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_batch,
        )
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True)
        await consumer.start()
        await producer.start()
        self._consumer = consumer
        try:
            while True:
                await self._one_batch(consumer, producer)
        finally:
            self._consumer = None
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _one_batch(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer) -> None:
        events: list[Event] = []
        offsets: dict[TopicPartition, int] = {}
        deadline = time.monotonic() + self.max_wait_s
        while len(events) < self.max_batch and time.monotonic() < deadline:
            remaining_ms = max(int((deadline - time.monotonic()) * 1000), 1)
            fetched = await consumer.getmany(
                timeout_ms=remaining_ms, max_records=self.max_batch - len(events)
            )
            for tp, records in fetched.items():
                for record in records:
                    offsets[tp] = record.offset + 1
                    try:
                        events.append(decode_event(record.value))
                    except ValueError as exc:
                        await producer.send_and_wait(
                            DEAD_LETTER.name,
                            record.value,
                            key=tp.topic.encode(),
                            headers=[
                                ("reason", str(exc)[:500].encode()),
                                ("source", f"{tp.topic}/{tp.partition}/{record.offset}".encode()),
                            ],
                        )
                        self.dead_lettered += 1
        if not offsets:
            return
        await self._insert(events)
        await consumer.commit(offsets)
        self.last_flush = time.time()

    async def _insert(self, events: list[Event]) -> None:
        requests, ledger = rows_of(events)
        while True:
            try:
                if requests:
                    await self.clickhouse.run(
                        lambda c: c.insert("request_events", requests, column_names=REQUEST_COLUMNS)
                    )
                if ledger:
                    await self.clickhouse.run(
                        lambda c: c.insert("ledger_entries", ledger, column_names=LEDGER_COLUMNS)
                    )
                self.rows_written += len(requests) + len(ledger)
                return
            except Exception:
                log.exception("ClickHouse insert failed; retrying (offsets not committed)")
                await asyncio.sleep(1)
