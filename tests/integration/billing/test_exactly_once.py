"""Billing killed (SIGKILL) mid-stream of requests and restarted charges each request once."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from tests.integration.billing.test_money_path import balance_nano, funded, ledger_of
from tests.processes import ServiceProcess
from tests.support import eventually

pytestmark = pytest.mark.integration


async def test_sigkill_between_read_and_commit_charges_every_request_once(
    kafka_bootstrap: str, billing: ServiceProcess, gateway: ServiceProcess
) -> None:
    account, secret = funded(billing, "Crashy", "100")
    headers = {"authorization": f"Bearer {secret}"}
    body = {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    served: list[str] = []
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:

        async def ready() -> int:
            return (await http.get("/v1/models", headers=headers)).status_code

        await eventually(ready, lambda s: s == 200, what="key usable")

        async def worker(n: int) -> None:
            for _ in range(n):
                response = await http.post("/v1/chat/completions", json=body, headers=headers)
                if response.status_code == 200:
                    served.append(response.headers["x-request-id"])

        load = asyncio.gather(*(worker(15) for _ in range(6)))
        await eventually(lambda: _count(served), lambda n: n >= 20, what="traffic flowing")
        billing.kill()  # no chance to commit or abort its open transaction
        await asyncio.to_thread(billing.start, "/readyz")
        await load
    assert len(served) == 90

    async def settled() -> tuple[Counter[str], int, int]:
        entries = await ledger_of(kafka_bootstrap, account)
        charges = Counter(e.request_id for e in entries if e.kind == "charge" and e.request_id)
        return charges, sum(e.amount_nano for e in entries), await balance_nano(billing, account)

    charges, ledger_sum, balance = await eventually(
        settled,
        lambda t: len(t[0]) == len(served) and t[1] == t[2],
        timeout=30,
        what="every request charged and the balance settled",
    )
    assert set(charges) == set(served)
    assert max(charges.values()) == 1, "a request was charged twice"
    assert ledger_sum == balance


async def _count(items: list[str]) -> int:
    return len(items)
