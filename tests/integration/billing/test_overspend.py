"""Overspend is bounded: 50 concurrent streams against an account holding 0.05 USD.

Bound: the gateway admits while the status it holds says ``active``; billing
flips it when available = balance - holds <= 0. Until the gateway has the new
status, only requests already admitted can spend, and with N clients at most N
are in flight, each costing at most prompt x input price + max_tokens x output
price. So the balance ends no lower than -(N x max_request_cost).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from tests.integration.billing.test_money_path import balance_nano, tollway
from tests.processes import ServiceProcess
from tests.support import eventually

pytestmark = pytest.mark.integration

CLIENTS = 50
MAX_TOKENS = 20
PROMPT = "How much is left?"
# sim-large in the test catalog: 2.50 USD in, 10.00 USD out per 1M tokens = 2,500 / 10,000 nano
IN_NANO, OUT_NANO = 2_500, 10_000


async def test_fifty_streams_overspend_at_most_one_request_each(
    billing: ServiceProcess, gateway: ServiceProcess
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
        "messages": [{"role": "user", "content": PROMPT}],
    }
    statuses: list[tuple[float, int]] = []
    async with httpx.AsyncClient(
        base_url=gateway.url, timeout=30, limits=httpx.Limits(max_connections=CLIENTS)
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

        await asyncio.wait_for(asyncio.gather(*(client() for _ in range(CLIENTS))), 120)

    served = sum(1 for _, s in statuses if s == 200)
    prompt_bound = 64  # the chat prompt is ~12 tokens; 64 leaves room for any tokenizer
    max_cost = prompt_bound * IN_NANO + MAX_TOKENS * OUT_NANO
    bound = CLIENTS * max_cost

    async def settled() -> int:
        return await balance_nano(billing, account)

    async def holds_released() -> int:
        return int(tollway(billing, "balance", account)["held_nano"])

    await eventually(holds_released, lambda h: h == 0, timeout=30, what="every hold released")
    final = await settled()
    overspend = max(0, -final)
    print(
        f"\noverspend: {Decimal(overspend) / 10**9} USD after {served} requests; "
        f"bound {Decimal(bound) / 10**9} USD ({CLIENTS} x {max_cost} nano)"
    )
    assert served > CLIENTS  # the account really spent down under load
    assert overspend <= bound
