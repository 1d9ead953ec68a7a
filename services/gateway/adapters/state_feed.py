"""Feeds the in-memory key and account stores from their compacted topics.

Every gateway instance reads ``tollway.api-keys`` and
``tollway.account-status`` from the beginning (no consumer group: each
instance needs all of it), with ``read_committed`` since billing writes them
in transactions. ``ready`` turns true once the reader has reached the end
offsets those topics had when it started; after that it keeps following, so a
revocation reaches every instance within one fetch (well under a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from schemas.events import AccountStatusChanged, ApiKeyRecorded, decode_event
from schemas.topics import ACCOUNT_STATUS, API_KEYS

from ..domain.admission import AccountStore, KeyStore

__all__ = ["StateFeed"]

log = logging.getLogger("tollway.gateway.state")


class StateFeed:
    def __init__(self, bootstrap: str, keys: KeyStore, accounts: AccountStore) -> None:
        self._bootstrap = bootstrap
        self.keys = keys
        self.accounts = accounts
        self.ready = False
        self.records = 0
        self.skipped = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="state-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._follow()
            except KafkaError as exc:
                log.warning("state feed lost kafka; retrying", extra={"error": type(exc).__name__})
                await asyncio.sleep(1)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic.name, p)
                for topic in (API_KEYS, ACCOUNT_STATUS)
                for p in range(topic.partitions)
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            targets = await consumer.end_offsets(partitions)
            while True:
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                for records in batches.values():
                    for record in records:
                        self._apply(record.value)
                if not self.ready and await self._caught_up(consumer, targets):
                    self.ready = True
                    log.info(
                        "state loaded",
                        extra={"keys": len(self.keys), "accounts": len(self.accounts)},
                    )
        finally:
            await consumer.stop()

    @staticmethod
    async def _caught_up(consumer: AIOKafkaConsumer, targets: dict[TopicPartition, int]) -> bool:
        for tp, end in targets.items():
            if await consumer.position(tp) < end:
                return False
        return True

    def _apply(self, value: bytes | None) -> None:
        if value is None:
            return  # a tombstone: nothing to hold
        try:
            event = decode_event(value)
        except ValueError:
            self.skipped += 1
            return
        self.records += 1
        if isinstance(event, ApiKeyRecorded):
            self.keys.apply(event)
        elif isinstance(event, AccountStatusChanged):
            self.accounts.apply(event)
