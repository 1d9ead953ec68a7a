"""Keys with policies of their own, from the operator's CLI to a client's refusals: a model
allow-list (403), a daily spend limit that billing marks once reached, holds included
(429 naming the limit, while the account's other key keeps working), an expiry set at
creation (401 once past)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.integration.billing.test_money_path import funded, tollway
from tests.processes import ServiceProcess
from tests.support import budget, eventually

pytestmark = pytest.mark.integration


async def _ask(gateway: ServiceProcess, secret: str, model: str = "sim-small") -> tuple[int, Any]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        response = await http.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {secret}"},
            json={"model": model, "messages": [{"role": "user", "content": "Hi"}]},
        )
    body = response.json()
    return response.status_code, body.get("error") if response.status_code != 200 else body


async def test_a_capped_key_is_refused_alone_and_an_allow_list_holds(
    billing: ServiceProcess, gateway: ServiceProcess
) -> None:
    account, open_secret = funded(billing, "Policies", "10")
    capped = tollway(
        billing, "keys", "create", account, "--name", "ci-bot",
        "--spend-limit", "0.000001", "--per", "day", "--allow-model", "sim-small",
    )  # fmt: skip
    listed = tollway(billing, "keys", "list", account)["data"]
    (mine,) = [k for k in listed if k["key_id"] == capped["key_id"]]
    assert mine["name"] == "ci-bot" and mine["policy"]["spend_limit"] == "0.000001000"
    assert mine["policy"]["allowed_models"] == ["sim-small"] and not mine["limit_reached"]
    secret = capped["secret"]
    await eventually(lambda: _ask(gateway, secret), lambda r: r[0] == 200, what="key usable")

    status, error = await _ask(gateway, secret, model="sim-large")
    assert (status, error["code"], error["param"]) == (403, "model_not_allowed", "model")
    assert "may use: sim-small" in error["message"]

    # Any answer costs more than 0.000001 USD (and a request's hold far more): once one is
    # charged, billing marks the key for the rest of the day.
    status, error = await eventually(
        lambda: _ask(gateway, secret), lambda r: r[0] == 429, what="the key's limit"
    )
    assert error["code"] == "key_limit_reached" and error["type"] == "insufficient_quota"
    assert "spend limit of 0.000001000 USD per day" in error["message"]
    assert "It resets at" in error["message"] and "T00:00:00Z" in error["message"]
    assert (await _ask(gateway, open_secret))[0] == 200  # the account's other key

    async def marked() -> list[bool]:  # billing's admin view reads the mark on its own
        listed = tollway(billing, "keys", "list", account)["data"]
        return [k["limit_reached"] for k in listed if k["key_id"] == capped["key_id"]]

    await eventually(marked, lambda m: m == [True], what="the key listed as at its limit")


async def test_a_key_made_to_expire_is_refused_once_past(
    billing: ServiceProcess, gateway: ServiceProcess
) -> None:
    account, _ = funded(billing, "Short lived", "10")
    until = datetime.now(UTC) + timedelta(seconds=budget(4))
    key = tollway(billing, "keys", "create", account, "--expires-at", until.isoformat())
    await eventually(lambda: _ask(gateway, key["secret"]), lambda r: r[0] == 200, what="usable")
    _, error = await eventually(
        lambda: _ask(gateway, key["secret"]), lambda r: r[0] == 401, what="expired"
    )
    assert error["code"] == "invalid_api_key" and "expired" in error["message"]
    assert datetime.now(UTC) >= until
    refused = tollway(billing, "keys", "list", account)["data"]
    assert {k["expires_at"] for k in refused if k["key_id"] == key["key_id"]} == {until.isoformat()}
