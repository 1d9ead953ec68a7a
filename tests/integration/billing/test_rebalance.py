"""A second billing consumer joins under load (a rebalance moves partitions between them),
then the first leaves: nothing is lost and nothing is charged twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.integration.billing.test_money_path import (
    another_billing,
    charged_once_each,
    funded_accounts,
)
from tests.processes import ServiceProcess
from tests.support import eventually

pytestmark = pytest.mark.integration


async def test_rebalance_between_two_billing_consumers_loses_and_doubles_nothing(
    kafka_bootstrap: str,
    billing: ServiceProcess,
    gateway: ServiceProcess,
    catalog_file: Path,
    tmp_path: Path,
) -> None:
    accounts, secrets = funded_accounts(billing, 6, "Team")
    second = another_billing(kafka_bootstrap, catalog_file, tmp_path, "second")
    body = {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
    served: list[str] = []
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        for secret in secrets:

            async def usable(s: str = secret) -> int:
                return (
                    await http.get("/v1/models", headers={"authorization": f"Bearer {s}"})
                ).status_code

            await eventually(usable, lambda c: c == 200, what="keys usable")

        async def worker(secret: str, n: int) -> None:
            for _ in range(n):
                r = await http.post(
                    "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {secret}"}
                )
                assert r.status_code == 200
                served.append(r.headers["x-request-id"])

        load = asyncio.gather(*(worker(s, 20) for s in secrets))

        async def count() -> int:
            return len(served)

        await eventually(count, lambda n: n >= 20, what="traffic flowing")
        await asyncio.to_thread(second.start, "/readyz")  # partitions move to it
        await eventually(count, lambda n: n >= 70, what="traffic after the join")
        await asyncio.to_thread(billing.stop)  # and back: the first leaves cleanly
        await load
    try:
        await charged_once_each(kafka_bootstrap, second, accounts, served, timeout=45)
    finally:
        second.stop()
        await asyncio.to_thread(billing.start, "/readyz")
