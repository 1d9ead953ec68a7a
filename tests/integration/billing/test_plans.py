"""Plans from the operator's side: a free account that used its quota gets a 429 saying
when usage resets; moving it to premium lets it in at once; the change is in the audit
trail with who made it and why; a plan that does not exist is a 400 naming those that do."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.billing.test_money_path import funded, tollway, tollway_fails
from tests.processes import ServiceProcess
from tests.support import eventually

pytestmark = pytest.mark.integration


async def _ask(gateway: ServiceProcess, secret: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        response = await http.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {secret}"},
            json={"model": "sim-small", "messages": [{"role": "user", "content": "Hi"}]},
        )
    return response.status_code, response.json()


async def test_an_operator_moves_a_spent_free_account_to_premium_and_it_is_let_in_at_once(
    billing: ServiceProcess, gateway: ServiceProcess
) -> None:
    account, secret = funded(
        billing, "Upgrader", "10", "--plan", "free", "--monthly-token-quota", "10"
    )
    assert tollway(billing, "balance", account)["plan"]["name"] == "free"
    await eventually(lambda: _ask(gateway, secret), lambda r: r[0] == 200, what="key usable")
    _, body = await eventually(
        lambda: _ask(gateway, secret), lambda r: r[0] == 429, what="quota spent"
    )
    error = body["error"]
    assert error["code"] == "quota_exceeded" and error["type"] == "insufficient_quota"
    assert "of 10 tokens (free plan)" in error["message"] and "Usage resets at" in error["message"]

    changed = tollway(billing, "plan", account, "premium", "--reason", "signed the contract")
    assert changed["outcome"] == "applied"
    assert changed["plan"] == {
        "name": "premium",
        "monthly_token_quota": None,
        "requests_per_minute": None,
        "tokens_per_minute": None,
    }
    await eventually(lambda: _ask(gateway, secret), lambda r: r[0] == 200, what="let in")

    async def audited() -> list[tuple[str, str, str]]:  # the admin view reads it on its own
        return [
            (c["actor"], c["reason"], c["outcome"])
            for c in tollway(billing, "audit", "--account", account)["data"]
            if c["command"] == "account.change_plan"
        ]

    # "env": the operator token from TOLLWAY_ADMIN_TOKEN.
    entry = [("env", "signed the contract", "applied")]
    await eventually(audited, lambda a: a == entry, what="the change in the audit trail")
    refused = tollway_fails(billing, "plan", account, "gold")
    assert "unknown plan 'gold': one of default, free, premium" in refused
