"""The billing consumer: exactly-once from requests + commands to ledger, status and changelog.

One consumer group reads ``tollway.requests`` and ``tollway.billing-commands``
(co-partitioned by account_id, ``read_committed``). Each batch is applied in
memory, then everything it produced (ledger entries, API key records, command
results, one status and one snapshot per touched account) is written in one
Kafka transaction together with the batch's offsets
(``send_offsets_to_transaction``). Either all of it is visible to
``read_committed`` readers, or none of it and the batch is read again.

State lives in memory for the partitions this consumer owns and is restored
from the compacted ``tollway.balances`` changelog whenever partitions are
assigned. If a transaction fails, the in-memory state may be ahead of what was
committed, so the consumer restores its partitions and seeks back before going on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import KafkaError

from schemas.events import AccountSnapshot, decode_event, encode_event
from schemas.topics import BALANCES, BILLING_COMMANDS, DEAD_LETTER, REQUESTS

from ..domain.account import AccountState
from ..service_layer.engine import Engine, Output, Unroutable

__all__ = ["BillingConsumer"]

log = logging.getLogger("tollway.billing.consumer")
GROUP = "tollway-billing"


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: BillingConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Let the batch in flight commit (or abort) first: the next owner of these
        # partitions must start from offsets and snapshots that are final.
        async with self.owner.batch_lock:
            self.owner.drop({tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.owner.restore({tp.partition for tp in assigned})


class BillingConsumer:
    def __init__(
        self, bootstrap: str, engine: Engine, instance: str = "0", max_records: int = 5000
    ) -> None:
        self.bootstrap = bootstrap
        self.engine = engine
        self.instance = instance
        self.max_records = max_records
        self.applied = 0
        self.dead_lettered = 0
        self.ready = False
        self._owned: dict[int, set[str]] = defaultdict(set)  # partition -> account ids
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        #: Held while a batch is applied and its transaction committed.
        self.batch_lock = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="billing-consumer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("billing consumer failed; restarting it")
                self.ready = False
                await asyncio.sleep(1)

    async def _consume(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            transactional_id=f"tollway-billing-{self.instance}",
            enable_idempotence=True,
            linger_ms=2,
            compression_type="lz4",
            max_batch_size=512 * 1024,
        )
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=GROUP,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_records,
            fetch_max_wait_ms=20,
        )
        await producer.start()
        await consumer.start()
        self._consumer = consumer
        try:
            consumer.subscribe([REQUESTS.name, BILLING_COMMANDS.name], listener=_Rebalance(self))
            self.ready = True
            while True:
                batches = await consumer.getmany(timeout_ms=100, max_records=self.max_records)
                if batches:
                    async with self.batch_lock:
                        await self._process(producer, consumer, batches)
        finally:
            self._consumer = None
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await producer.stop()

    # -- one batch, one transaction -----------------------------------------------------------

    async def _process(
        self,
        producer: AIOKafkaProducer,
        consumer: AIOKafkaConsumer,
        batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
    ) -> None:
        outputs: list[Output] = []
        dead: list[tuple[TopicPartition, int, bytes | None, str]] = []
        offsets: dict[TopicPartition, int] = {}
        for tp, records in batches.items():
            for record in records:
                offsets[tp] = record.offset + 1
                try:
                    event = decode_event(record.value)
                    outputs.extend(self.engine.apply(event))
                    account_id = getattr(event, "account_id", None)
                    if account_id:
                        self._owned[tp.partition].add(account_id)
                except (ValueError, Unroutable) as exc:
                    dead.append((tp, record.offset, record.value, str(exc)[:500]))
        outputs.extend(self.engine.touched_records())
        try:
            async with producer.transaction():
                for topic, key, event in outputs:
                    value, headers = encode_event(event)
                    await producer.send(topic.name, value, key=key.encode(), headers=headers)
                for tp, offset, raw, reason in dead:
                    await producer.send(
                        DEAD_LETTER.name,
                        raw,
                        key=tp.topic.encode(),
                        headers=[
                            ("reason", reason.encode()),
                            ("source", f"{tp.topic}/{tp.partition}/{offset}".encode()),
                        ],
                    )
                await producer.send_offsets_to_transaction(offsets, GROUP)
        except KafkaError:
            log.exception("billing transaction failed; restoring owned partitions")
            await self.restore(set(self._owned), seek=True)
            raise
        self.applied += sum(len(records) for records in batches.values())
        self.dead_lettered += len(dead)

    # -- state ownership ----------------------------------------------------------------------

    def drop(self, partitions: set[int]) -> None:
        for partition in partitions:
            self.engine.forget(self._owned.pop(partition, set()))

    async def restore(self, partitions: set[int], seek: bool = False) -> None:
        """Load the latest snapshot of every account in ``partitions`` from the changelog."""
        self.drop(partitions)
        if not partitions:
            return
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            isolation_level="read_committed",
            enable_auto_commit=False,
        )
        await reader.start()
        try:
            tps = [TopicPartition(BALANCES.name, p) for p in partitions]
            reader.assign(tps)
            await reader.seek_to_beginning(*tps)
            end = await reader.end_offsets(tps)
            latest: dict[str, tuple[int, AccountSnapshot]] = {}
            while any([await reader.position(tp) < end[tp] for tp in tps]):
                for tp, records in (await reader.getmany(timeout_ms=200)).items():
                    for record in records:
                        snap = decode_event(record.value)
                        if isinstance(snap, AccountSnapshot):
                            latest[snap.account_id] = (tp.partition, snap)
            for account_id, (partition, snap) in latest.items():
                self.engine.accounts[account_id] = AccountState.restore(snap)
                self._owned[partition].add(account_id)
        finally:
            await reader.stop()
        if seek and self._consumer is not None:
            await self._seek_to_committed(self._consumer, partitions)
        log.info(
            "restored billing state",
            extra={"partitions": sorted(partitions), "accounts": len(self.engine.accounts)},
        )

    @staticmethod
    async def _seek_to_committed(consumer: AIOKafkaConsumer, partitions: set[int]) -> None:
        for tp in consumer.assignment():
            if tp.partition in partitions:
                committed = await consumer.committed(tp)
                if committed is None:
                    await consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, committed)
