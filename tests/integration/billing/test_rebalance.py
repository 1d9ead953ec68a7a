"""A second billing consumer joins under load (a rebalance moves partitions between them),
then the first leaves: nothing is lost and nothing is charged twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.integration.billing.test_money_path import balance_nano, ledger_of, tollway
from tests.integration.conftest import ADMIN_TOKEN
from tests.processes import ServiceProcess
from tests.support import eventually, free_port

pytestmark = pytest.mark.integration


async def test_rebalance_between_two_billing_consumers_loses_and_doubles_nothing(
    kafka_bootstrap: str,
    billing: ServiceProcess,
    gateway: ServiceProcess,
    catalog_file: Path,
    tmp_path: Path,
) -> None:
    accounts = [tollway(billing, "accounts", "create", f"Team {i}")["account_id"] for i in range(6)]
    secrets = []
    for account in accounts:
        tollway(billing, "topup", account, "100")
        secrets.append(tollway(billing, "keys", "create", account)["secret"])
    port = free_port()
    second = ServiceProcess(
        "services.billing",
        port,
        {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "TOLLWAY_CATALOG": str(catalog_file),
            "TOLLWAY_BILLING_PORT": str(port),
            "TOLLWAY_ADMIN_TOKEN": ADMIN_TOKEN,
            "TOLLWAY_BILLING_INSTANCE": "second",
        },
        tmp_path,
    )
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

        async def settled() -> tuple[Counter[str], bool]:
            charges: Counter[str] = Counter()
            balanced = True
            for account in accounts:
                entries = await ledger_of(kafka_bootstrap, account)
                charges.update(e.request_id for e in entries if e.kind == "charge" and e.request_id)
                balanced &= sum(e.amount_nano for e in entries) == await balance_nano(
                    second, account
                )
            return charges, balanced

        charges, _ = await eventually(
            settled,
            lambda t: len(t[0]) == len(served) and t[1],
            timeout=45,
            what="every request charged, balances settled",
        )
        assert set(charges) == set(served) and max(charges.values()) == 1
    finally:
        second.stop()
        await asyncio.to_thread(billing.start, "/readyz")
