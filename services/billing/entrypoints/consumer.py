"""The billing consumer: exactly-once from requests + commands to ledger, status and changelog.

One consumer group reads ``tollway.requests``, ``tollway.billing-commands`` and
``tollway.clock`` (co-partitioned, ``read_committed``). Each batch is applied in
memory partition by partition; everything a partition's records produced (ledger
entries, API key and member records, command results, one status and one snapshot per
touched account) is written in one Kafka transaction together with that partition's
offsets (``send_offsets_to_transaction``). Either all of it is visible to
``read_committed`` readers, or none of it and the records are read again.

**One transactional producer per partition** (``tollway-billing-p<n>``), opened when the
partition is assigned: its ``init_transactions`` fences whoever held the partition
before. A consumer frozen through a rebalance (a long GC pause, a stalled VM) that
wakes and commits what it had fetched is refused (``ProducerFenced``): aiokafka commits
offsets with TxnOffsetCommit v0, which carries no group generation (KIP-447), so fencing
by transactional id is the only fence there is. Then the new owner restores and seeks to
the committed offsets, after fencing.

State lives in memory for the partitions this consumer owns and is restored
from the compacted ``tollway.balances`` changelog whenever partitions are
assigned. If a transaction fails, the in-memory state may be ahead of what was
committed, so the consumer restores its partitions and seeks back before going on.

Time passes as events: every ``tick_s`` the consumer writes a ``clock.tick`` to each
clock partition it owns and applies it like any other record, to the accounts of that
partition (month turn, hold and key expiry happen without traffic, and replay the same).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import TypeAlias

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import KafkaError

from schemas.events import (
    AccountSnapshot,
    ClockTicked,
    EventParked,
    decode_event,
    encode_event,
)
from schemas.streams import Supervised, behind, stop_within
from schemas.topics import (
    ALERTS,
    BALANCES,
    BILLING_COMMANDS,
    CLOCK,
    DEAD_LETTER,
    REQUESTS,
    Topic,
)

from ..adapters import metrics
from ..domain.account import AccountState
from ..service_layer.engine import Engine, Output, Unroutable

__all__ = ["BillingConsumer"]

log = logging.getLogger("tollway.billing.consumer")
GROUP = "tollway-billing"
#: The broker aborts a transaction left open this long (the producer's setting)...
TRANSACTION_TIMEOUT_MS = 60_000
#: ...so a batch still not committed a while after that will never commit: the consumer gives
#: up on it and starts again (a new producer fences the old one and its transaction; the
#: batch is read again from the committed offsets). A lost broker answer must not hold
#: billing for every account forever.
BATCH_DEADLINE_S = TRANSACTION_TIMEOUT_MS / 1000 + 15
#: How long stopping a client may take once its broker is gone.
STOP_WAIT_S = 10.0
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
#: An output ready to send: topic, key, encoded value and headers.
_Encoded: TypeAlias = tuple[Topic, str, bytes, list[tuple[str, bytes]]]
#: One partition's applied records: outputs, records to dead-letter, offsets to commit.
_Unit: TypeAlias = tuple[
    list[_Encoded], list[tuple[TopicPartition, Record, str]], dict[TopicPartition, int]
]


def _source(tp: TopicPartition, record: Record) -> str:
    return f"{tp.topic}/{tp.partition}/{record.offset}"


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: BillingConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Let the batch in flight commit (or abort) first: the next owner of these
        # partitions must start from offsets and snapshots that are final.
        async with self.owner.batch_lock:
            self.owner.assignments += 1
            gone = {tp.partition for tp in revoked}
            self.owner.drop(gone)
            await self.owner.close_producers(gone)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        # aiokafka fetches for the new assignment while this runs: a batch fetched before it
        # ends is dropped (``assignments`` moved) and read again (``_rewind``), once the
        # state it applies to is restored.
        async with self.owner.batch_lock:
            self.owner.assignments += 1
            mine = {tp.partition for tp in assigned}
            await self.owner.open_producers(mine)  # fences the partitions' previous owners
            await self.owner.restore(mine, seek=True)


class BillingConsumer(Supervised):
    name = "billing-consumer"

    def __init__(
        self,
        bootstrap: str,
        engine: Engine,
        instance: str = "0",
        max_records: int = 5000,
        tick_s: float = 10.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.engine = engine
        super().__init__(log)
        self.instance = instance
        self.max_records = max_records
        self.tick_s = tick_s
        self.ticks_written = 0
        self.applied = 0
        self.dead_lettered = 0
        #: Records parked because they broke a batch (also counted in ``dead_lettered``).
        self.parked = 0
        self.last_parked: dict[str, str] | None = None
        #: When the last batch went through (restarts since then: ``failures_in_a_row``; a
        #: consumer failing over and over is stuck, not busy).
        self.last_progress: float | None = None
        self.ready = False
        self._owned: dict[int, set[str]] = defaultdict(set)  # partition -> account ids
        self._consumer: AIOKafkaConsumer | None = None
        #: The transactional producer of each partition owned (``tollway-billing-p<n>``).
        self._producers: dict[int, AIOKafkaProducer] = {}
        #: Where the last assignment (or recovery) put each partition: its committed offset.
        self._sought: dict[TopicPartition, int] = {}
        #: Held while a batch is applied and its transaction committed, and while partitions
        #: are revoked or assigned; ``assignments`` counts those.
        self.batch_lock = asyncio.Lock()
        self.assignments = 0

    def failed(self, exc: BaseException) -> None:
        super().failed(exc)
        self.ready = False

    async def run(self) -> None:
        # A restart starts from the log, never from what a failed run left in memory: the
        # partitions it is given are restored when assigned.
        self.drop(set(self._owned))
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=GROUP,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_records,
            fetch_max_wait_ms=20,
        )
        # Ticks are written outside the transactions (the transactional producer is busy
        # with batches); they are read back, and applied, in one like every record.
        clock = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True)
        await clock.start()
        await consumer.start()
        self._consumer = consumer
        ticker = asyncio.create_task(self._tick(clock, consumer), name="billing-clock")
        try:
            consumer.subscribe(
                [REQUESTS.name, BILLING_COMMANDS.name, CLOCK.name], listener=_Rebalance(self)
            )
            self.ready = True
            while True:
                seen = self.assignments
                batches = await consumer.getmany(timeout_ms=100, max_records=self.max_records)
                if batches:
                    async with self.batch_lock, asyncio.timeout(BATCH_DEADLINE_S):
                        if seen == self.assignments:
                            await self._process(consumer, batches)
                        else:  # fetched across a rebalance: read it again, in order
                            self._rewind(consumer, batches)
        finally:
            # All at once, and within STOP_WAIT_S however the broker is: a restart (with its
            # new consumer and producers) must not wait on a stop a broker outage holds.
            ticker.cancel()
            self._consumer = None
            producers = [self._producers.pop(p) for p in sorted(self._producers)]
            stops = [ticker, clock.stop(), consumer.stop(), *(p.stop() for p in producers)]
            if given_up := await stop_within(stops, STOP_WAIT_S):
                log.warning("gave up stopping %d Kafka clients; starting again", given_up)

    async def _tick(self, clock: AIOKafkaProducer, consumer: AIOKafkaConsumer) -> None:
        """Every ``tick_s``, one ``clock.tick`` on each clock partition this consumer owns."""
        while True:
            await asyncio.sleep(self.tick_s)
            partitions = sorted(
                tp.partition for tp in consumer.assignment() if tp.topic == CLOCK.name
            )
            for partition in partitions:
                tick = ClockTicked(partition=partition, by=self.instance)
                value, headers = encode_event(tick)
                try:
                    await clock.send_and_wait(
                        CLOCK.name, value, partition=partition, headers=headers
                    )
                except KafkaError:
                    log.warning("could not write a clock tick; the next one will do")
                    break
                self.ticks_written += 1

    # -- one batch, one transaction -----------------------------------------------------------

    async def _process(
        self,
        consumer: AIOKafkaConsumer,
        batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
    ) -> None:
        started = time.perf_counter()
        by_partition: dict[int, list[tuple[TopicPartition, Record]]] = defaultdict(list)
        for tp, got in batches.items():
            by_partition[tp.partition].extend((tp, record) for record in got)
        units, broken = [], []
        for partition in sorted(by_partition):  # one partition at a time: its own outputs
            records = by_partition[partition]
            try:
                units.append((partition, self._apply(records)))
            except Exception:
                # A record no state or schema takes (found once, not in a loop): back to
                # the committed state, then one record a transaction; the one that fails
                # is parked.
                log.exception("a billing batch could not be applied; isolating the record")
                self.engine.discard_touched()
                broken.append(partition)
        try:
            await asyncio.gather(*(self._write(p, *unit) for p, unit in units))
            for partition in broken:
                await self._isolate(partition, by_partition[partition])
        except KafkaError:
            # run() starts again from the log (offsets and snapshots committed), as after a
            # crash; nothing here waits on a broker that may be away.
            log.exception("billing transaction failed; starting again from the log")
            raise
        applied = sum(len(by_partition[p]) for p, _ in units)
        self.applied += applied
        metrics.APPLIED.inc(applied)
        self.progressed()
        self.last_progress = time.time()
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        done = {tp: got[-1].offset + 1 for tp, got in batches.items() if got}
        for tp, lag in behind(consumer, done).items():
            metrics.LAG.labels(tp.topic, str(tp.partition)).set(lag)

    async def _isolate(self, partition: int, records: list[tuple[TopicPartition, Record]]) -> None:
        await self.restore({partition})
        for tp, record in records:
            try:
                unit = self._apply([(tp, record)])
            except Exception as exc:
                self.engine.discard_touched()
                await self.restore({partition})  # undo what it did in memory
                await self._park(tp, record, f"{type(exc).__name__}: {exc}")
                continue
            await self._write(partition, *unit)
            self.applied += 1
            metrics.APPLIED.inc()

    def _apply(self, records: list[tuple[TopicPartition, Record]]) -> _Unit:
        """Apply one partition's ``records`` in memory: what to write, what to dead-letter
        (events that are not billing's to apply: unknown account or price, a value out of
        range), and the offsets to commit with them. Encoded here: a value that cannot be
        written fails before any transaction begins."""
        outputs: list[Output] = []
        dead: list[tuple[TopicPartition, Record, str]] = []
        offsets: dict[TopicPartition, int] = {}
        for tp, record in records:
            offsets[tp] = record.offset + 1
            try:
                event = decode_event(record.value)
                if isinstance(event, ClockTicked):
                    outputs.extend(self.engine.tick(event, self._owned[tp.partition]))
                    continue
                outputs.extend(self.engine.apply(event))
                account_id = getattr(event, "account_id", None)
                if account_id:
                    self._owned[tp.partition].add(account_id)
            except (ValueError, Unroutable) as exc:
                dead.append((tp, record, str(exc)[:500]))
        outputs.extend(self.engine.touched_records())
        encoded = [(topic, key, *encode_event(event)) for topic, key, event in outputs]
        return encoded, dead, offsets

    async def _write(
        self,
        partition: int,
        encoded: list[_Encoded],
        dead: list[tuple[TopicPartition, Record, str]],
        offsets: dict[TopicPartition, int],
    ) -> None:
        """Write one partition's outputs and offsets in one transaction of its producer."""
        producer = self._producer(partition)
        async with producer.transaction():
            for topic, key, value, headers in encoded:
                await producer.send(topic.name, value, key=key.encode(), headers=headers)
            for tp, record, reason in dead:
                await self._send_dead(producer, tp, record, reason)
            await producer.send_offsets_to_transaction(offsets, GROUP)
        self.dead_lettered += len(dead)
        metrics.DEAD_LETTERED.inc(len(dead))

    def _producer(self, partition: int) -> AIOKafkaProducer:
        producer = self._producers.get(partition)
        if producer is None:  # not ours any more: the batch is not written
            raise KafkaError(f"partition {partition} is not assigned to this consumer")
        return producer

    async def open_producers(self, partitions: set[int]) -> None:
        """A transactional producer per newly owned partition; starting one (its
        ``init_transactions``) fences the partition's previous owner and aborts whatever
        transaction it left open."""

        async def open_one(partition: int) -> None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                transactional_id=f"tollway-billing-p{partition}",
                transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
                enable_idempotence=True,
                linger_ms=2,
                compression_type="lz4",
                max_batch_size=512 * 1024,
            )
            await producer.start()
            self._producers[partition] = producer

        await asyncio.gather(*(open_one(p) for p in sorted(partitions - set(self._producers))))

    async def close_producers(self, partitions: set[int]) -> None:
        closing = [self._producers.pop(p) for p in sorted(partitions) if p in self._producers]
        await stop_within((producer.stop() for producer in closing), STOP_WAIT_S)

    async def _park(self, tp: TopicPartition, record: Record, reason: str) -> None:
        """Dead-letter one record with the reason and an alert, and move its partition on."""
        log.error(
            "billing parked an event it cannot apply",
            extra={"source": _source(tp, record), "reason": reason[:500]},
        )
        producer = self._producer(tp.partition)
        async with producer.transaction():
            await self._send_dead(producer, tp, record, reason)
            await producer.send_offsets_to_transaction({tp: record.offset + 1}, GROUP)
        self.dead_lettered += 1
        metrics.DEAD_LETTERED.inc()
        self.parked += 1
        self.last_parked = {"source": _source(tp, record), "reason": reason[:500]}

    @staticmethod
    async def _send_dead(
        producer: AIOKafkaProducer, tp: TopicPartition, record: Record, reason: str
    ) -> None:
        source = _source(tp, record)
        await producer.send(
            DEAD_LETTER.name,
            record.value,
            key=tp.topic.encode(),
            headers=[("reason", reason[:1000].encode()), ("source", source.encode())],
        )
        account = record.key.decode("utf-8", "replace")[:64] if record.key else None
        alert = EventParked(
            consumer="billing", source=source, reason=reason[:1000], account_id=account
        )
        value, headers = encode_event(alert)
        await producer.send(ALERTS.name, value, key=(account or tp.topic).encode(), headers=headers)

    # -- state ownership ----------------------------------------------------------------------

    def drop(self, partitions: set[int]) -> None:
        self.engine.discard_touched()
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
        try:
            await reader.start()
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

    async def _seek_to_committed(self, consumer: AIOKafkaConsumer, partitions: set[int]) -> None:
        for tp in consumer.assignment():
            if tp.partition in partitions:
                committed = await consumer.committed(tp)
                if committed is None:
                    await consumer.seek_to_beginning(tp)
                    self._sought[tp] = 0
                else:
                    consumer.seek(tp, committed)
                    self._sought[tp] = committed

    def _rewind(
        self, consumer: AIOKafkaConsumer, batches: dict[TopicPartition, list[Record]]
    ) -> None:
        """Put back a batch dropped because partitions moved while it was fetched. Fetched
        after the assignment's seek, it is read again from its first record; fetched before,
        from where that seek put the partition (the committed offset, read once the new
        producer had fenced and completed the previous owner's transactions: stable).
        Committed offsets are not read again here: our own last transaction's may not be
        visible yet (aiokafka's OffsetFetch cannot ask for stable offsets)."""
        assigned = consumer.assignment()
        for tp, got in batches.items():
            if got and tp in assigned:
                consumer.seek(tp, max(got[0].offset, self._sought.get(tp, got[0].offset)))
