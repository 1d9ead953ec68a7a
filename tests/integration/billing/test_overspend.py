"""Overspend is bounded: many concurrent streams against an account holding 0.05 USD.

Bound: the gateway admits while available - reserved > 0, where available is the
latest figure billing sent (balance - the holds billing knows) and reserved is the
hold of every request this gateway admitted that billing has not applied yet (a
request's hold covers its prompt estimate and n x max_tokens of output: every choice
writes up to max_tokens). Each admission can take that below zero by at most its own
hold, and a request costs at most its hold, so with one gateway the balance ends no
lower than -(one request's maximum cost), however fast the clients come back.

Without the reservations the bound was N requests in flight, and false: a client
whose requests finish faster than billing's status reaches the gateway is admitted
again on a balance already spent (n = 8 went 0.06 USD under, past N x its cost).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from tests.integration.billing.test_money_path import balance_nano, tollway
from tests.processes import ServiceProcess
from tests.support import budget, eventually

pytestmark = pytest.mark.integration

MAX_TOKENS = 20
PROMPT = "How much is left?"
# sim-large in the test catalog: 2.50 USD in, 10.00 USD out per 1M tokens = 2,500 / 10,000 nano
IN_NANO, OUT_NANO = 2_500, 10_000


@pytest.mark.parametrize(("clients", "n"), [(50, 1), (30, 8)], ids=["n=1", "n=8"])
async def test_concurrent_streams_overspend_at_most_one_request(
    billing: ServiceProcess, gateway: ServiceProcess, clients: int, n: int
) -> None:
    account = tollway(billing, "accounts", "create", "Thin wallet")["account_id"]
    tollway(billing, "topup", account, "10")
    tollway(billing, "adjust", account, "-9.45", "--reason", "leave 0.05 USD")
    assert await balance_nano(billing, account) == 50_000_000
    secret = tollway(billing, "keys", "create", account)["secret"]
    headers = {"authorization": f"Bearer {secret}"}
    body = {
        "model": "sim-large",
        "stream": True,
        "max_tokens": MAX_TOKENS,
        "n": n,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    statuses: list[tuple[float, int]] = []
    async with httpx.AsyncClient(
        base_url=gateway.url, timeout=budget(30), limits=httpx.Limits(max_connections=clients)
    ) as http:

        async def usable() -> int:
            return (await http.get("/v1/models", headers=headers)).status_code

        await eventually(usable, lambda s: s == 200, what="key usable")
        loop = asyncio.get_running_loop()

        async def client() -> None:
            while True:
                async with http.stream(
                    "POST", "/v1/chat/completions", json=body, headers=headers
                ) as response:
                    async for _ in response.aiter_bytes():
                        pass
                statuses.append((loop.time(), response.status_code))
                if response.status_code == 402:
                    return
                assert response.status_code == 200, response.status_code

        await asyncio.wait_for(asyncio.gather(*(client() for _ in range(clients))), budget(120))

    served = sum(1 for _, s in statuses if s == 200)
    prompt_bound = 64  # the chat prompt is ~12 tokens; 64 leaves room for any tokenizer
    max_cost = prompt_bound * IN_NANO + n * MAX_TOKENS * OUT_NANO
    bound = max_cost  # one request's, with one gateway

    async def settled() -> int:
        return await balance_nano(billing, account)

    async def holds_released() -> int:
        return int(tollway(billing, "balance", account)["held_nano"])

    await eventually(holds_released, lambda h: h == 0, timeout=30, what="every hold released")
    final = await settled()
    overspend = max(0, -final)
    print(
        f"\noverspend: {Decimal(overspend) / 10**9} USD after {served} requests; "
        f"bound {Decimal(bound) / 10**9} USD (one request at most)"
    )
    assert served > clients // n  # the account really spent down under load
    assert overspend <= bound
