"""``stop_within``: clients stopped together, and given up on when a broker outage holds
them, so that a consumer starts again instead of waiting on them (billing once waited a
stop per partition in turn, over a minute while the broker was away)."""

from __future__ import annotations

import asyncio
import time

from schemas.streams import stop_within
from tests.support import budget


async def _stuck(for_s: float = 3.0) -> None:
    """A stop that ignores being cancelled for ``for_s``, as one flushing to an absent
    broker may (``asyncio.wait_for`` would wait for it to the end)."""
    until = time.monotonic() + for_s
    while (left := until - time.monotonic()) > 0:
        try:
            await asyncio.sleep(left)
        except asyncio.CancelledError:
            continue


async def _fails() -> None:
    raise ConnectionError("the broker is away")


async def test_stops_run_together_and_those_still_running_are_given_up_on() -> None:
    ended: list[str] = []

    async def quick(name: str) -> None:
        await asyncio.sleep(0.05)
        ended.append(name)

    started = time.monotonic()
    given_up = await stop_within(
        [quick("a"), quick("b"), quick("c"), _stuck(), _stuck(), _fails()], timeout=0.5
    )
    took = time.monotonic() - started
    assert given_up == 2  # returned while the stuck ones ran on (they take 3 s)
    assert sorted(ended) == ["a", "b", "c"]  # every stop that ends in time has ended
    assert took < 0.5 + budget(1.0), took


async def test_nothing_to_stop_returns_at_once() -> None:
    assert await stop_within([], timeout=60) == 0
