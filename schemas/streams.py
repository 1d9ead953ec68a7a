"""The two pieces every service's Kafka entrypoints are built from.

- ``Supervised``: a background task that runs until stopped; a failure is logged, counted
  and the body started again a second later. Three failures without progress in between
  is ``stuck``, which each service's health reports.
- ``TopicFollower``: a ``Supervised`` reader of whole topics, from their beginning and on
  (no consumer group: every process needs all of it), ``read_committed``. ``ready`` is set
  once it has reached the end the topics had when it started; after that it keeps
  following. A restart reads from the beginning again: what it feeds keeps the newest
  record per key, so reading a record twice changes nothing.

And ``read_to_end``: every record of some partitions up to their end now (tools, tests);
``stop_within``: stop clients at once, giving up on those a broker outage holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from .events import Event, decode_event
from .topics import Topic

__all__ = [
    "Record",
    "Supervised",
    "TopicFollower",
    "behind",
    "partitions",
    "read_to_end",
    "stop_within",
]

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"

#: Restarts without progress after which a supervised task counts as stuck.
STUCK_AFTER = 3


#: Stops given up on by ``stop_within`` and not ended yet: held, so that they are not
#: collected while running; each leaves when it ends.
_abandoned: set[asyncio.Future[object]] = set()


def _ended(stopping: asyncio.Future[object]) -> None:
    """Its failure retrieved: a stop that failed is not worth a warning."""
    _abandoned.discard(stopping)
    if not stopping.cancelled():
        stopping.exception()


async def stop_within(stops: Iterable[Awaitable[object]], timeout: float) -> int:
    """Run ``stops`` (clients' ``stop()``, tasks to end) together and return within
    ``timeout``, giving up on those still running: cancelled, never awaited. A Kafka client
    flushing to a broker that is away can outlast any wait, and a cancelled one need not end
    at once (``asyncio.wait_for`` would wait for it). How many were given up on."""
    running = {asyncio.ensure_future(stop) for stop in stops}
    if not running:
        return 0
    done, pending = await asyncio.wait(running, timeout=timeout)
    for stopping in done:
        _ended(stopping)
    for stopping in pending:
        stopping.cancel()
        _abandoned.add(stopping)
        stopping.add_done_callback(_ended)
    return len(pending)


def partitions(*topics: Topic) -> list[TopicPartition]:
    return [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]


class Supervised:
    """Subclasses implement ``run``; ``progressed`` says a unit of work went through."""

    name = "task"
    retry_s = 1.0

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self.failures_in_a_row = 0
        self.last_error = ""
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def failed(self, exc: BaseException) -> None:
        """Count a failure (a restart, or a retry inside ``run``) and keep what it said."""
        self.failures_in_a_row += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:500]

    def progressed(self) -> None:
        self.failures_in_a_row = 0

    @property
    def stuck(self) -> bool:
        return self.failures_in_a_row >= STUCK_AFTER

    async def _supervise(self) -> None:
        while True:
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.exception("%s failed; restarting it", self.name)
                self.failed(exc)
                await asyncio.sleep(self.retry_s)


class TopicFollower(Supervised):
    def __init__(
        self,
        name: str,
        bootstrap: str,
        topics: Sequence[Topic],
        on_event: Callable[[Event], None],
        log: logging.Logger,
        ready_after: Sequence[Topic] | None = None,
        fetch_max_wait_ms: int = 100,
    ) -> None:
        """``on_event`` gets each record's event; a record that is not one (a tombstone, a
        value no schema reads) is counted in ``skipped``. ``ready`` waits for the end of
        ``ready_after`` (default: every topic followed)."""
        super().__init__(log)
        self.name, self.bootstrap = name, bootstrap
        self.topics, self.on_event = tuple(topics), on_event
        self.ready_after = tuple(ready_after if ready_after is not None else topics)
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.ready = asyncio.Event()
        self.records = 0
        self.skipped = 0

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            isolation_level="read_committed",
            enable_auto_commit=False,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
        )
        await consumer.start()
        try:
            followed = partitions(*self.topics)
            consumer.assign(followed)
            await consumer.seek_to_beginning(*followed)
            targets = await consumer.end_offsets(partitions(*self.ready_after))
            while True:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for record in records:
                        self._apply(record.value)
                    self.progressed()
                if not self.ready.is_set() and not await _behind(consumer, targets):
                    self.ready.set()
                    self.log.info("%s caught up", self.name, extra={"records": self.records})
        finally:
            await consumer.stop()

    def _apply(self, value: bytes | None) -> None:
        if value is None:
            self.skipped += 1
            return
        try:
            event = decode_event(value)
        except ValueError:
            self.skipped += 1  # its producer's consumer dead-letters it; nothing to hold
            return
        self.records += 1
        self.on_event(event)


async def _behind(consumer: AIOKafkaConsumer, targets: dict[TopicPartition, int]) -> bool:
    return any([await consumer.position(tp) < end for tp, end in targets.items()])


def behind(
    consumer: AIOKafkaConsumer, done: Mapping[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """Per partition, how many records lie past ``done`` (the next offset to read) up to the
    end the consumer last fetched: a consumer's lag, for its metrics."""
    lags = {}
    for tp, offset in done.items():
        end = consumer.highwater(tp)
        if end is not None:
            lags[tp] = max(end - offset, 0)
    return lags


async def read_to_end(
    bootstrap: str, tps: Sequence[TopicPartition], isolation: str = "read_committed"
) -> list[Record]:
    """Every record of ``tps`` up to their end now, as a reader with ``isolation`` sees it."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level=isolation,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign(list(tps))
        await consumer.seek_to_beginning(*tps)
        targets = await consumer.end_offsets(list(tps))
        records: list[Record] = []
        while await _behind(consumer, targets):
            for chunk in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(chunk)
        return records
    finally:
        await consumer.stop()
