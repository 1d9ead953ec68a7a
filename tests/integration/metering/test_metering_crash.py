"""Metering SIGKILLed while events flow, then restarted: every report total stays exact."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.integration.billing.test_money_path import funded, tollway
from tests.integration.conftest import ADMIN_TOKEN
from tests.processes import ServiceProcess
from tests.support import eventually

pytestmark = pytest.mark.integration


async def test_killed_mid_batch_reports_every_request_once(
    billing: ServiceProcess, gateway: ServiceProcess, metering: ServiceProcess
) -> None:
    account, secret = funded(billing, "Crash Metering", "50")
    headers = {"authorization": f"Bearer {secret}"}
    body = {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    sent: list[str] = []
    async with httpx.AsyncClient(timeout=30) as http:

        async def ready() -> int:
            return (await http.get(gateway.url + "/v1/models", headers=headers)).status_code

        await eventually(ready, lambda s: s == 200, what="key usable")

        async def traffic(n: int) -> None:
            for _ in range(n):
                r = await http.post(
                    gateway.url + "/v1/chat/completions", json=body, headers=headers
                )
                assert r.status_code == 200
                sent.append(r.headers["x-request-id"])

        load = asyncio.create_task(traffic(40))

        async def count() -> int:
            return len(sent)

        await eventually(count, lambda n: n >= 15, what="traffic flowing")
        metering.kill()
        await asyncio.to_thread(metering.start)
        await load

        async def charged() -> int:
            trails = [
                (await http.get(f"{metering.url}/v1/requests/{rid}", headers=admin)).json()
                for rid in sent
            ]
            return sum(1 for t in trails if (t.get("charge") or {}).get("cost_nano"))

        # Requests and their charges arrive on different topics: wait for every charge, or
        # the revenue below would be read before metering holds it.
        await eventually(charged, lambda n: n == 40, timeout=30, what="all 40 charges in metering")

        async def usage() -> list[dict[str, int]]:
            r = await http.get(f"{metering.url}/v1/usage/{account}", headers=admin)
            return list(r.json()["data"])

        rows = await usage()
        assert sum(r["requests"] for r in rows) == 40
        assert sum(r["completion_tokens"] for r in rows) == 40 * 3

        async def reconciled() -> dict[str, object]:
            r = await http.get(
                f"{metering.url}/v1/reconcile", params={"account_id": account}, headers=admin
            )
            return dict(r.json())

        result = await eventually(
            reconciled, lambda r: bool(r["ok"]), timeout=30, what="reconciliation clean"
        )
        assert result["mismatches"] == []
        balance = tollway(billing, "balance", account)["balance_nano"]
        revenue = sum(r["cost_nano"] for r in rows)
        assert balance == 50 * 10**9 - 25 * 10**8 - revenue  # top-up - 5% fee - charges
