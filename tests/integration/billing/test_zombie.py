"""Zombie fencing, tested rather than assumed: a billing consumer frozen (SIGSTOP, as a long
GC pause or a stalled VM freezes one) loses its partitions to the other consumer; when it
wakes, with records it fetched before the freeze still in hand, it must not commit them
again. Every request is charged exactly once and every balance is the sum of its ledger."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.billing.test_money_path import (
    another_billing,
    balance_nano,
    charged_once_each,
    group_settled,
    one_account_a_partition,
)
from tests.processes import ServiceProcess
from tests.support import budget, eventually

pytestmark = pytest.mark.integration


async def _stats(service: ServiceProcess) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=service.url, timeout=5) as http:
        return dict((await http.get("/healthz")).json())


async def test_a_frozen_billing_consumer_that_wakes_after_a_rebalance_charges_nothing_twice(
    kafka_bootstrap: str,
    billing: ServiceProcess,
    gateway: ServiceProcess,
    catalog_file: Path,
    tmp_path: Path,
) -> None:
    accounts, secrets = one_account_a_partition(billing, "Zombie")
    zombie = another_billing(kafka_bootstrap, catalog_file, tmp_path, "zombie")
    body = {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
    served: list[str] = []
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:

        async def worker(secret: str) -> None:
            headers = {"authorization": f"Bearer {secret}"}
            while not stop.is_set():
                r = await http.post("/v1/chat/completions", json=body, headers=headers)
                if r.status_code == 200:
                    served.append(r.headers["x-request-id"])
                else:
                    await asyncio.sleep(0.05)  # a key not at the gateway yet

        async def count() -> int:
            return len(served)

        load = asyncio.gather(*(worker(s) for s in secrets))
        try:
            await eventually(count, lambda n: n >= 20, what="traffic flowing")
            await asyncio.to_thread(zombie.start, "/readyz")  # partitions move to it
            await eventually(
                lambda: _stats(zombie),
                lambda s: s["events_applied"] > 50,
                what="the second consumer applying events",
            )
            assert zombie.proc is not None
            zombie.proc.send_signal(signal.SIGSTOP)  # frozen with fetched records in hand
            # The group gives its partitions back to the first consumer (its session times
            # out), which goes on from the committed offsets: every account's balance moves.
            await asyncio.sleep(budget(1))
            before = [await balance_nano(billing, a) for a in accounts]

            async def balances() -> list[int]:
                return [await balance_nano(billing, a) for a in accounts]

            await eventually(
                balances,
                lambda now: all(n < b for n, b in zip(now, before, strict=True)),
                timeout=60,
                what="every account charged by the live consumer",
            )
            await asyncio.sleep(budget(2))  # more traffic past the frozen one's offsets
            zombie.proc.send_signal(signal.SIGCONT)  # it wakes, still thinking it owns them
            woke_at = len(served)
            await eventually(count, lambda n: n >= woke_at + 100, timeout=60, what="load")
        finally:
            stop.set()
            await load
            if zombie.proc is not None and zombie.proc.poll() is None:
                zombie.proc.send_signal(signal.SIGCONT)
            zombie.stop()
            await group_settled(kafka_bootstrap, billing)

    await charged_once_each(kafka_bootstrap, billing, accounts, served, timeout=60)
