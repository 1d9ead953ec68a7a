"""Rate limits across gateway instances, through ``tollway.key-usage``.

Every ``interval`` this instance sends what its callers took from rate-limited
keys since its last report (one small message, none when idle), and it follows
the topic from its end (no consumer group: every instance reads every report),
taking what other instances report from its own buckets. A key's limits then
hold across N instances within what one interval plus Kafka's delivery lets
through, instead of reaching N times the limit.

Best effort by design: a report that cannot be sent is dropped (limits fall
back to each instance's own count until Kafka returns), and reports older
than a minute are ignored, since the buckets have refilled since. Nothing here
is on a request's path: admission only reads and updates memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from schemas.events import KeyUsageReported, KeyUse, decode_event, encode_event
from schemas.topics import KEY_USAGE

from ..domain.ratelimit import RateLimiter

__all__ = ["SharedLimits"]

log = logging.getLogger("tollway.gateway.limits")

#: Reports older than this are not applied: a per-minute bucket has refilled since.
MAX_AGE_S = 60.0


class SharedLimits:
    def __init__(
        self,
        bootstrap: str,
        limiter: RateLimiter,
        producer: str,
        *,
        interval_s: float = 0.1,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bootstrap = bootstrap
        self._limiter = limiter
        self.producer = producer
        self._interval = interval_s
        self._monotonic = monotonic
        self._tasks: list[asyncio.Task[None]] = []
        #: Reports and the requests they counted: sent, applied from others, dropped.
        self.sent = self.requests_sent = 0
        self.applied = self.requests_applied = 0
        self.dropped = 0

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._report(), name="limits-report"),
            asyncio.create_task(self._follow_forever(), name="limits-follow"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- reporting -------------------------------------------------------------------

    def report(self) -> KeyUsageReported | None:
        """This instance's use since the last report, as the event to send (None if idle)."""
        use = self._limiter.drain_use()
        if not use:
            return None
        return KeyUsageReported(
            producer=self.producer,
            uses=tuple(
                KeyUse(
                    key_id=key_id,
                    requests=u.requests,
                    tokens=u.tokens,
                    requests_per_minute=u.requests_per_minute,
                    tokens_per_minute=u.tokens_per_minute,
                )
                for key_id, u in use.items()
            ),
        )

    async def _report(self) -> None:
        producer: AIOKafkaProducer | None = None
        failing = False
        try:
            while True:
                await asyncio.sleep(self._interval if not failing else 1.0)
                event = self.report()
                if event is None:
                    continue
                try:
                    if producer is None:
                        producer = AIOKafkaProducer(
                            bootstrap_servers=self._bootstrap, linger_ms=0, acks=1
                        )
                        await producer.start()
                    value, headers = encode_event(event)
                    await asyncio.wait_for(
                        producer.send_and_wait(
                            KEY_USAGE.name, value, key=self.producer.encode(), headers=headers
                        ),
                        timeout=2,
                    )
                except (KafkaError, TimeoutError, OSError) as exc:
                    self.dropped += 1
                    if not failing:  # once per outage, not every interval
                        failing = True
                        log.warning(
                            "key usage reports dropped until kafka takes them; "
                            "each instance limits alone meanwhile",
                            extra={"error": type(exc).__name__},
                        )
                    if producer is not None:
                        with contextlib.suppress(Exception):
                            await producer.stop()
                        producer = None
                    continue
                self.sent += 1
                self.requests_sent += sum(u.requests for u in event.uses)
                if failing:
                    failing = False
                    log.info("key usage reports sent again", extra={"dropped": self.dropped})
        finally:
            if producer is not None:
                with contextlib.suppress(Exception):
                    await producer.stop()

    # -- following the others --------------------------------------------------------

    def apply(self, event: KeyUsageReported) -> None:
        """Take another instance's reported use from this instance's buckets."""
        if event.producer == self.producer:
            return
        if (datetime.now(UTC) - event.occurred_at).total_seconds() > MAX_AGE_S:
            return
        now = self._monotonic()
        for use in event.uses:
            self._limiter.take_remote(
                use.key_id,
                now,
                use.requests_per_minute,
                use.tokens_per_minute,
                use.requests,
                use.tokens,
            )
            self.requests_applied += use.requests
        self.applied += 1

    async def _follow_forever(self) -> None:
        while True:
            try:
                await self._follow()
            except KafkaError as exc:
                log.warning("key usage feed lost kafka", extra={"error": type(exc).__name__})
                await asyncio.sleep(1)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition(KEY_USAGE.name, p) for p in range(KEY_USAGE.partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=1000)
                for records in batches.values():
                    for record in records:
                        try:
                            event = decode_event(record.value or b"")
                        except ValueError:
                            continue
                        if isinstance(event, KeyUsageReported):
                            self.apply(event)
        finally:
            await consumer.stop()
