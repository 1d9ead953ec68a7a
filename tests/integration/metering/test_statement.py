"""An account's statement, as finance and support get it: every ledger entry in billing's
order with who made the manual ones, the balance before and after any instant replayed
from the entries, and a closing balance equal to the one billing reports."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

import httpx
import pytest

from tests.integration.billing.test_money_path import funded, tollway
from tests.integration.metering.test_reports import metering_cli
from tests.processes import ServiceProcess
from tests.support import eventually

pytestmark = pytest.mark.integration

SINCE = "2026-01-01"


def _statement(metering: ServiceProcess, account: str, *period: str) -> dict[str, Any]:
    done = metering_cli(metering, "statement", account, "--format", "json", *period)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


async def test_a_statement_replays_the_ledger_to_the_balance_billing_reports(
    billing: ServiceProcess, gateway: ServiceProcess, metering: ServiceProcess
) -> None:
    account, secret = funded(billing, "Statement Co", "10")
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        for _ in range(2):
            answer = await eventually(
                lambda: http.post(
                    "/v1/chat/completions",
                    headers={"authorization": f"Bearer {secret}"},
                    json={"model": "sim-small", "messages": [{"role": "user", "content": "Hi"}]},
                ),
                lambda r: r.status_code == 200,
                what="a charged request",
            )
            assert answer.status_code == 200
    tollway(billing, "adjust", account, "1", "--reason", "goodwill")
    tollway(billing, "adjust", account, "0.25", "--reason", "slow answer", "--refund")
    # top-up, fee, two charges, adjustment, refund
    kinds = ["top_up", "service_fee", "charge", "charge", "adjustment", "refund"]
    whole = await eventually(
        lambda: asyncio.to_thread(_statement, metering, account, "--from", SINCE),
        lambda s: sorted(e["kind"] for e in s["entries"]) == sorted(kinds),
        what="every entry in metering",
    )
    entries = whole["entries"]
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    assert whole["opening_balance_nano"] == 0 and whole["breaks"] == []
    assert whole["closing_balance_nano"] == sum(e["amount_nano"] for e in entries)
    assert whole["closing_balance_nano"] == tollway(billing, "balance", account)["balance_nano"]
    manual = {e["kind"]: (e["actor"], e["reason"]) for e in entries if e["kind"] != "charge"}
    assert manual["adjustment"] == ("env", "goodwill")
    assert manual["refund"] == ("env", "slow answer") and manual["top_up"][0] == "env"
    assert all(e["request_id"].startswith("req_") for e in entries if e["kind"] == "charge")

    # The balance as of any instant: a period ending at the third entry's time closes on
    # the second's balance, and one starting there opens on it.
    third = entries[2]["occurred_at"]
    before = _statement(metering, account, "--from", SINCE, "--to", third)
    after = _statement(metering, account, "--from", third)
    assert before["closing_balance_nano"] == after["opening_balance_nano"]
    assert before["closing_balance_nano"] == entries[1]["balance_after_nano"]
    assert after["closing_balance_nano"] == whole["closing_balance_nano"]

    exported = metering_cli(metering, "statement", account, "--from", SINCE, "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    table = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [row["entry_id"] for row in table] == [e["entry_id"] for e in entries]
    assert table[-1]["balance_after"] == whole["closing_balance"]
