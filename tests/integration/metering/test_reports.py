"""Metering through its public surfaces: requests through the gateway, money through billing,
then the support lookup, usage, finance report, export and reconciliation, over real Kafka."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from typing import Any

import httpx
import openai
import pytest

from tests.integration.billing.test_money_path import expected_cost_nano, tollway
from tests.integration.conftest import ADMIN_TOKEN
from tests.processes import ServiceProcess
from tests.support import eventually

pytestmark = pytest.mark.integration


def metering_cli(metering: ServiceProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOLLWAY_METERING_URL": metering.url, "TOLLWAY_ADMIN_TOKEN": ADMIN_TOKEN}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def _get(
    metering: ServiceProcess, path: str, token: str = ADMIN_TOKEN, **params: str
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=metering.url, timeout=30) as http:
        return await http.get(path, params=params, headers={"authorization": f"Bearer {token}"})


async def _spend(billing: ServiceProcess, gateway: ServiceProcess) -> tuple[str, list[Any]]:
    account = tollway(billing, "accounts", "create", "Finance Co")["account_id"]
    tollway(billing, "topup", account, "40")
    secret = tollway(billing, "keys", "create", account)["secret"]
    client = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)

    async def usable() -> bool:
        try:
            await client.models.list()
            return True
        except openai.APIStatusError:
            return False

    await eventually(usable, bool, what="key usable")
    replies = []
    for i in range(4):
        raw = await client.chat.completions.with_raw_response.create(
            model="sim-small",
            max_tokens=3 + i,
            messages=[{"role": "user", "content": f"question {i}"}],
        )
        replies.append((raw.headers["x-request-id"], raw.parse().usage))
    return account, replies


async def test_lookup_usage_finance_and_reconcile_agree_with_billing(
    billing: ServiceProcess, gateway: ServiceProcess, metering: ServiceProcess
) -> None:
    account, replies = await _spend(billing, gateway)
    costs = [expected_cost_nano(usage) for _, usage in replies]

    async def trail() -> dict[str, Any]:
        response = await _get(metering, f"/v1/requests/{replies[-1][0]}")
        return response.json() if response.status_code == 200 else {}

    found = await eventually(trail, lambda t: bool(t.get("charge")), what="the full trail")
    assert found["state"] == "completed" and found["account_id"] == account
    assert [e["event_type"] for e in found["events"]] == ["request.started", "request.completed"]
    assert found["charge"]["cost_nano"] == costs[-1]
    assert found["tokens"]["completion_tokens"] == replies[-1][1].completion_tokens

    async def usage() -> list[dict[str, Any]]:
        return (await _get(metering, f"/v1/usage/{account}")).json()["data"]

    rows = await eventually(usage, lambda r: sum(x["requests"] for x in r) == 4, what="usage")
    assert sum(r["cost_nano"] for r in rows) == sum(costs)

    report = (await _get(metering, "/v1/reports/finance", group_by="account")).json()
    mine = next(r for r in report["rows"] if r["account_id"] == account)
    assert mine["revenue_nano"] == sum(costs)
    assert mine["top_ups_nano"] == 40 * 10**9 and mine["fees_nano"] == 2 * 10**9
    balance = tollway(billing, "balance", account)["balance_nano"]
    assert balance == 38 * 10**9 - sum(costs)

    exported = (
        await _get(metering, "/v1/reports/finance", group_by="day,model", format="csv")
    ).text
    header = next(csv.reader(io.StringIO(exported)))
    assert {"period", "model", "revenue_nano", "requests"} <= set(header)

    done = metering_cli(metering, "reconcile", "--account", account)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no mismatch" in done.stdout
    looked = metering_cli(metering, "request", replies[0][0], "--json")
    assert json.loads(looked.stdout)["charge"]["cost_nano"] == costs[0]


async def test_bad_queries_get_clear_4xx(metering: ServiceProcess) -> None:
    cases = [
        ("/v1/requests/req_does_not_exist", {}, 404, "request_not_found"),
        (
            "/v1/reports/finance",
            {"from": "2026-11-02", "to": "2026-11-01"},
            400,
            "invalid_request_error",
        ),
        ("/v1/reports/finance", {"group_by": "planet"}, 400, "invalid_request_error"),
        ("/v1/reports/finance", {"group_by": "day,month"}, 400, "invalid_request_error"),
        ("/v1/reports/finance", {"from": "yesterday"}, 400, "invalid_request_error"),
        ("/v1/reports/finance", {"format": "xlsx"}, 400, "invalid_request_error"),
    ]
    for path, params, status, code in cases:
        response = await _get(metering, path, **params)
        assert response.status_code == status, (path, params, response.text)
        error = response.json()["error"]
        assert error["code"] == code and error["request_id"] == response.headers["x-request-id"]
    wrong = await _get(metering, "/v1/reports/finance", token="nope")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_admin_token"
    failed = metering_cli(metering, "request", "req_missing")
    assert failed.returncode == 1 and "request_not_found" in failed.stderr
