"""Helpers every test may use: unique names, free ports, and waiting on a condition."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.streams import read_to_end

T = TypeVar("T")

#: One factor for every test budget (how long a test waits for something to happen), set
#: by TOLLWAY_TEST_TIME_SCALE on a slower machine: 3 gives three times as long. Product
#: bounds a test measures (revocation within a second) are not budgets and never scale.
TIME_SCALE = float(os.environ.get("TOLLWAY_TEST_TIME_SCALE") or "1")


def budget(seconds: float) -> float:
    """``seconds`` of test budget on this machine."""
    return seconds * TIME_SCALE


def unique(prefix: str) -> str:
    """A name no other test (or earlier run against the same broker) has used."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free now and not handed out before in this run: the kernel may give a just
    closed ephemeral port back at once, and two services of one stack on the same port
    answer each other's health checks until one of them dies."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


async def eventually(
    probe: Callable[[], Awaitable[T]],
    ok: Callable[[T], bool],
    timeout: float = 15.0,
    interval: float = 0.1,
    what: str = "condition",
    scaled: bool = True,
) -> T:
    """Await ``probe()`` until ``ok(result)``; fail with the last result after ``timeout``
    (a budget, scaled by ``TIME_SCALE``; ``scaled=False`` for a product bound)."""
    timeout = budget(timeout) if scaled else timeout
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if ok(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s; last: {result!r}")
        await asyncio.sleep(interval)


def wait_until(check: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Blocking form of ``eventually`` for a boolean check."""
    timeout = budget(timeout)
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.05)


async def read_all(
    bootstrap: str, topic: str, isolation: str = "read_committed"
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` up to its end now, as a reader with ``isolation`` sees it."""
    tps = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
    return await read_to_end(bootstrap, tps, isolation)


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        assert described["error_code"] == 0, f"topic {topic}: error {described['error_code']}"
        return sorted(p["partition"] for p in described["partitions"])
    finally:
        await admin.close()
