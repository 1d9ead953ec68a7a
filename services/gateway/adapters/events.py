"""Request events to Kafka without ever making a client wait on Kafka.

``emit`` only appends to an in-memory queue. One writer task sends queued
events in batches with an idempotent producer (keyed by account_id) and awaits
their acknowledgement. When a send fails, that batch and every later event go
to the disk spool, in order, until a drain has put the whole spool into Kafka;
then direct sends resume. The spool survives restarts: a gateway that starts
with a non-empty spool drains it first.

What can be lost: events still in the in-memory queue when the process is
killed with SIGKILL (a few milliseconds' worth). Copies are harmless: a chunk
re-sent after a crash between send and cursor update, or a batch re-sent after
a timeout that had in fact reached Kafka. Each event is stamped with this
process's ``producer`` id and a per-account ``producer_seq``; billing drops
copies by those (keeping a few numbers per gateway process, not every request
id), metering by event_id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

from aiokafka import AIOKafkaProducer

from schemas.events import Event, encode_event, new_id
from schemas.topics import REQUESTS

from .spool import Spool, SpoolRecord

__all__ = ["EventPublisher"]

log = logging.getLogger("tollway.gateway.events")


class EventPublisher:
    def __init__(
        self,
        bootstrap: str,
        spool: Spool,
        *,
        linger_ms: int = 20,
        send_timeout_s: float = 5.0,
        retry_every_s: float = 1.0,
    ) -> None:
        self._bootstrap = bootstrap
        self._spool = spool
        self._linger_ms = linger_ms
        self._send_timeout = send_timeout_s
        self._retry_every = retry_every_s
        self._queue: deque[SpoolRecord] = deque()
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.spooling = not spool.empty
        self.sent = 0
        #: This process's name on its events; copies of an event repeat it and its number.
        self.producer_id = "gw_" + new_id().replace("-", "")
        self._seqs: dict[str, int] = {}

    # -- the hot path ---------------------------------------------------------------

    def emit(self, event: Event, key: str) -> int:
        """Queue ``event`` (a request event) for the partition of ``key`` (its account);
        its ``producer_seq``."""
        seq = self._seqs[key] = self._seqs.get(key, 0) + 1
        value, headers = encode_event(event, {"producer": self.producer_id, "producer_seq": seq})
        self._queue.append(
            SpoolRecord(REQUESTS.name, key.encode(), value, tuple(headers), time.time())
        )
        self._wake.set()
        return seq

    def backlog_age(self) -> float:
        """Seconds the oldest event not yet in Kafka has waited in the spool."""
        return self._spool.oldest_age()

    @property
    def queued(self) -> int:
        return len(self._queue)

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="event-writer")

    async def stop(self, flush_timeout_s: float = 10.0) -> None:
        """Send what is queued (or spool it), then close."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, flush_timeout_s)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._queue:  # whatever is left must not be lost
            await asyncio.to_thread(self._spool.append, list(self._queue))
            self._queue.clear()
        await self._close_producer()

    async def flushed(self) -> bool:
        """True once nothing is queued or spooled (for tests and shutdown)."""
        return not self._queue and self._spool.empty and not self.spooling

    # -- the writer -------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            if self.spooling:
                await self._spool_queue()
                if await self._drain():
                    self.spooling = False
                    log.info("event spool drained; sending directly again")
                elif self._closing:
                    return
                else:
                    await self._sleep(self._retry_every)
                continue
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), 2000))]
            failed = await self._send(batch)
            if failed:
                log.warning("kafka unavailable; spooling events", extra={"events": len(failed)})
                await asyncio.to_thread(self._spool.append, failed)
                self.spooling = True

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _spool_queue(self) -> None:
        if self._queue:
            records = list(self._queue)
            self._queue.clear()
            await asyncio.to_thread(self._spool.append, records)

    async def _drain(self) -> bool:
        """Send the spool to Kafka chunk by chunk; True once it is empty."""
        while not self._spool.empty:
            records, offset = await asyncio.to_thread(self._spool.read, 1000)
            if await self._send(records):
                return False
            await asyncio.to_thread(self._spool.ack, offset)
            await self._spool_queue()  # keep order: newer events queue behind the spool
        return True

    async def _send(self, records: list[SpoolRecord]) -> list[SpoolRecord]:
        """Send and await acknowledgement; return the records not known to be in Kafka."""
        producer = await self._ensure_producer()
        if producer is None:
            return records
        try:
            async with asyncio.timeout(self._send_timeout):
                futures = [
                    await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers))
                    for r in records
                ]
                results = await asyncio.gather(*futures, return_exceptions=True)
        except Exception:  # timeout or producer failure: state unknown, resend all
            await self._close_producer()
            return records
        failed = [
            r for r, res in zip(records, results, strict=True) if isinstance(res, BaseException)
        ]
        if failed:
            await self._close_producer()  # a fresh producer id restarts idempotent sequences
        self.sent += len(records) - len(failed)
        return failed

    async def _ensure_producer(self) -> AIOKafkaProducer | None:
        if self._producer is not None:
            return self._producer
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            enable_idempotence=True,
            acks="all",
            linger_ms=self._linger_ms,
            compression_type="lz4",
            request_timeout_ms=int(self._send_timeout * 1000),
            max_batch_size=256 * 1024,
        )
        try:
            await asyncio.wait_for(producer.start(), self._send_timeout)
        except Exception:
            with contextlib.suppress(Exception):
                await producer.stop()
            return None
        self._producer = producer
        return producer

    async def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 5)
