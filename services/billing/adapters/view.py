"""What the admin API reads: every account's status, every key, and command results.

Fed from ``tollway.account-status`` and ``tollway.api-keys`` (from the
beginning) and ``tollway.command-results`` (from the end at start, to answer
commands this process writes). Any billing process can answer for any account,
whichever consumer owns it.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.events import AccountStatusChanged, ApiKeyRecorded, CommandResult, decode_event
from schemas.topics import ACCOUNT_STATUS, API_KEYS, COMMAND_RESULTS

__all__ = ["AdminView"]


class AdminView:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.accounts: dict[str, AccountStatusChanged] = {}
        self.keys: dict[str, ApiKeyRecorded] = {}
        self.ready = asyncio.Event()
        self._waiters: dict[str, asyncio.Future[CommandResult]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="admin-view")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def expect(self, command_id: str) -> asyncio.Future[CommandResult]:
        future: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
        self._waiters[command_id] = future
        return future

    def forget(self, command_id: str) -> None:
        self._waiters.pop(command_id, None)

    def keys_of(self, account_id: str) -> list[ApiKeyRecorded]:
        return sorted(
            (k for k in self.keys.values() if k.account_id == account_id),
            key=lambda k: k.created_at,
        )

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            isolation_level="read_committed",
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
        )
        await consumer.start()
        try:
            state = [
                TopicPartition(t.name, p)
                for t in (ACCOUNT_STATUS, API_KEYS)
                for p in range(t.partitions)
            ]
            results = [
                TopicPartition(COMMAND_RESULTS.name, p) for p in range(COMMAND_RESULTS.partitions)
            ]
            consumer.assign(state + results)
            await consumer.seek_to_beginning(*state)
            await consumer.seek_to_end(*results)
            end = await consumer.end_offsets(state)
            for tp in results:
                await consumer.position(tp)
            while True:
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    for record in records:
                        self._apply(decode_event(record.value))
                if not self.ready.is_set() and all(
                    [await consumer.position(tp) >= end[tp] for tp in state]
                ):
                    self.ready.set()
        finally:
            await consumer.stop()

    def _apply(self, event: object) -> None:
        if isinstance(event, AccountStatusChanged):
            old = self.accounts.get(event.account_id)
            if old is None or event.sequence >= old.sequence:
                self.accounts[event.account_id] = event
        elif isinstance(event, ApiKeyRecorded):
            self.keys[event.key_id] = event
        elif isinstance(event, CommandResult):
            future = self._waiters.pop(event.command_id, None)
            if future is not None and not future.done():
                future.set_result(event)
