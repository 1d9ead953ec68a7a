"""Kafka -> ClickHouse: batches by size or time, offsets committed only after the rows landed.

Flush order, and what a failure at each step means:

1. decode and validate the batch into Arrow tables; malformed or unknown events
   go to ``tollway.dead-letter`` with the reason (failure here: nothing
   written, nothing committed; the batch is read again);
2. insert the rows into ClickHouse, one Arrow INSERT per table (failure: the
   insert is retried; offsets are not committed, so a crash re-reads the batch);
3. commit the Kafka offsets (failure or crash before it: the batch is read and
   inserted again; the tables drop the copies by ``event_id``, which is the
   last column of their sorting key, and every report reads with FINAL, so
   no report changes).

Nothing is committed before ClickHouse has the rows, so nothing is lost;
re-inserting is harmless, so nothing is counted twice.

Reading and writing overlap, so the sink uses both cores: the event loop reads
and decodes batch N+1 while a ClickHouse thread inserts batch N (chdb works
outside the GIL). Batches are written and committed strictly in the order read;
at most two wait between the stages. (Decoding in a separate process measured
no faster on two cores, so it stays here.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from schemas.streams import Supervised, behind
from schemas.topics import DEAD_LETTER, LEDGER, REQUESTS

from ..adapters import metrics
from ..adapters.clickhouse import ClickHouse
from ..domain.rows import DecodedBatch, decode_batch

__all__ = ["MeteringSink"]

log = logging.getLogger("tollway.metering.sink")
_DECODE_SLICE = 1000  # events decoded between two turns of the event loop (~15 ms)

_Batch = tuple[DecodedBatch, list[ConsumerRecord[bytes, bytes]], dict[TopicPartition, int]]


class MeteringSink(Supervised):
    name = "metering-sink"

    def __init__(
        self,
        bootstrap: str,
        clickhouse: ClickHouse,
        group: str,
        max_batch: int = 20000,
        max_wait_s: float = 0.25,
    ) -> None:
        super().__init__(log)
        self.bootstrap, self.clickhouse, self.group = bootstrap, clickhouse, group
        self.max_batch, self.max_wait_s = max_batch, max_wait_s
        self.rows_written = 0
        self.dead_lettered = 0
        self.last_flush: float | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._committed: dict[TopicPartition, int] = {}

    async def lag(self) -> dict[str, int]:
        """Records not yet in ClickHouse (behind the end of each topic), summed over partitions."""
        consumer = self._consumer
        if consumer is None:
            return {}
        lag: dict[str, int] = {}
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is None:
                continue
            done = self._committed.get(tp)
            if done is None:
                done = await consumer.position(tp)
            lag[tp.topic] = lag.get(tp.topic, 0) + max(end - done, 0)
        return lag

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            REQUESTS.name,
            LEDGER.name,
            bootstrap_servers=self.bootstrap,
            group_id=self.group,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_batch,
            max_partition_fetch_bytes=8 << 20,
        )
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True)
        await consumer.start()
        await producer.start()
        self._consumer, self._committed = consumer, {}
        batches: asyncio.Queue[_Batch] = asyncio.Queue(maxsize=2)
        try:
            async with asyncio.TaskGroup() as stages:
                stages.create_task(self._read(consumer, batches))
                stages.create_task(self._write(consumer, producer, batches))
        finally:
            self._consumer = None
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _read(self, consumer: AIOKafkaConsumer, batches: asyncio.Queue[_Batch]) -> None:
        """Read batches of up to ``max_batch`` records or ``max_wait_s``; decode each."""
        while True:
            records: list[ConsumerRecord[bytes, bytes]] = []
            offsets: dict[TopicPartition, int] = {}
            deadline = time.monotonic() + self.max_wait_s
            while len(records) < self.max_batch and time.monotonic() < deadline:
                remaining_ms = max(int((deadline - time.monotonic()) * 1000), 1)
                fetched = await consumer.getmany(
                    timeout_ms=remaining_ms, max_records=self.max_batch - len(records)
                )
                for tp, got in fetched.items():
                    records.extend(got)
                    offsets[tp] = got[-1].offset + 1
            if records:
                await batches.put((await self._decode(records), records, offsets))

    @staticmethod
    async def _decode(records: list[ConsumerRecord[bytes, bytes]]) -> DecodedBatch:
        """Decode in slices, yielding between them: the reporting API shares this event loop,
        and a whole batch at once would hold it for a few hundred milliseconds."""
        parts = []
        for start in range(0, len(records), _DECODE_SLICE):
            values = [r.value for r in records[start : start + _DECODE_SLICE]]
            parts.append(decode_batch(values, first_index=start))
            await asyncio.sleep(0)
        return DecodedBatch.concat(parts)

    async def _write(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        batches: asyncio.Queue[_Batch],
    ) -> None:
        """In read order: dead-letter the refused, insert the rest, then commit the offsets."""
        while True:
            batch, records, offsets = await batches.get()
            for index, reason in batch.rejected:
                record = records[index]
                await producer.send_and_wait(
                    DEAD_LETTER.name,
                    record.value,
                    key=record.topic.encode(),
                    headers=[
                        ("reason", reason.encode()),
                        ("source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
                    ],
                )
                self.dead_lettered += 1
                metrics.DEAD_LETTERED.inc()
            await self._insert(batch)
            await consumer.commit(offsets)
            self._committed.update(offsets)
            self.last_flush = time.time()
            for tp, lag in behind(consumer, offsets).items():
                metrics.LAG.labels(tp.topic, str(tp.partition)).set(lag)

    async def _insert(self, batch: DecodedBatch) -> None:
        while True:
            try:
                for name, table in batch.tables.items():
                    await self.clickhouse.insert_arrow(name, table)
                for name, table in batch.tables.items():
                    metrics.ROWS_WRITTEN.labels(name).inc(table.num_rows)
                self.rows_written += batch.rows
                self.progressed()
                return
            except Exception as exc:
                # Three in a row (``stuck``): ClickHouse is down or refuses the rows.
                log.exception("ClickHouse insert failed; retrying (offsets not committed)")
                self.failed(exc)
                await asyncio.sleep(1)
