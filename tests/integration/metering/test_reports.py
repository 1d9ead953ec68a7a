"""Metering through its public surfaces: requests through the gateway, money through billing,
then the support lookup, usage, finance report, export and reconciliation, over real Kafka."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.integration.billing.test_money_path import expected_cost_nano, funded, tollway
from tests.integration.conftest import ADMIN_TOKEN
from tests.processes import ServiceProcess
from tests.stack import tollway_cli
from tests.support import eventually

pytestmark = pytest.mark.integration


def metering_cli(metering: ServiceProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return tollway_cli(None, metering.url, ADMIN_TOKEN, *args)


async def _get(
    metering: ServiceProcess, path: str, token: str = ADMIN_TOKEN, **params: str
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=metering.url, timeout=30) as http:
        return await http.get(path, params=params, headers={"authorization": f"Bearer {token}"})


async def own_by_key(http: httpx.AsyncClient, secret: str) -> httpx.Response:
    return await http.get(
        "/v1/usage", params={"by": "key"}, headers={"authorization": f"Bearer {secret}"}
    )


async def _spend(billing: ServiceProcess, gateway: ServiceProcess) -> tuple[str, list[Any]]:
    account, secret = funded(billing, "Finance Co", "40")
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
    billing: ServiceProcess, gateway: ServiceProcess, metering: ServiceProcess, tmp_path: Path
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

    # The key holder sees the same rows through the gateway, for their own account only.
    secret = tollway(billing, "keys", "create", account)["secret"]
    other = tollway(billing, "accounts", "create", "Someone else")["account_id"]
    other_secret = tollway(billing, "keys", "create", other)["secret"]
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:

        async def own(key: str) -> httpx.Response:
            return await http.get("/v1/usage", headers={"authorization": f"Bearer {key}"})

        mine = await eventually(lambda: own(secret), lambda r: r.status_code == 200, what="key")
        assert mine.json()["account_id"] == account and mine.json()["data"] == rows
        theirs = await eventually(
            lambda: own(other_secret), lambda r: r.status_code == 200, what="other key"
        )
        assert theirs.json()["account_id"] == other and theirs.json()["data"] == []
        bad = await http.get(
            "/v1/usage",
            params={"from": "2026-11-02", "to": "2026-11-01"},
            headers={"authorization": f"Bearer {secret}"},
        )
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "from"
        assert bad.json()["error"]["request_id"] == bad.headers["x-request-id"]
        anonymous = await http.get("/v1/usage")
        assert anonymous.status_code == 401

        # By key: the first key's four requests, and one more on the second key.
        answer = await http.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {secret}"},
            json={
                "model": "sim-small",
                "max_tokens": 2,
                "messages": [{"role": "user", "content": "x"}],
            },
        )
        second_cost = int(Decimal(answer.headers["x-tollway-cost-usd"]) * 10**9)

        async def by_key() -> list[dict[str, Any]]:
            got = await own_by_key(http, secret)
            return list(got.json()["data"])

        keyed = await eventually(
            by_key,
            lambda r: (
                sum(x["requests"] for x in r) == 5
                and sum(x["cost_nano"] for x in r) > 0
                and sum(x["cost_nano"] for x in r) == sum(costs) + second_cost
            ),
            what="usage by key",
        )
        per_key = {}
        for row in keyed:
            per_key[row["key_id"]] = per_key.get(row["key_id"], 0) + row["requests"]
        assert sorted(per_key.values()) == [1, 4] and len(per_key) == 2

    report = (await _get(metering, "/v1/reports/finance", group_by="account")).json()
    mine = next(r for r in report["rows"] if r["account_id"] == account)
    assert mine["revenue_nano"] == sum(costs) + second_cost
    assert mine["top_ups_nano"] == 40 * 10**9 and mine["fees_nano"] == 2 * 10**9
    balance = tollway(billing, "balance", account)["balance_nano"]
    assert balance == 38 * 10**9 - sum(costs) - second_cost

    exported = (
        await _get(metering, "/v1/reports/finance", group_by="day,model", format="csv")
    ).text
    header = next(csv.reader(io.StringIO(exported)))
    assert {"period", "model", "revenue_nano", "requests"} <= set(header)

    parquet = await _get(metering, "/v1/reports/finance", group_by="account", format="parquet")
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.schema.field("revenue_nano").type == pa.int64()
    mine_pq = [r for r in table.to_pylist() if r["account_id"] == account]
    assert mine_pq == [mine]
    saved = tmp_path / "finance.parquet"
    written = metering_cli(
        metering, "report", "finance", "--group-by", "day", "--format", "parquet", "-o", str(saved)
    )
    assert written.returncode == 0, written.stderr
    assert pq.read_table(saved).schema.field("period").type == pa.date32()

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
