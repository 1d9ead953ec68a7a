"""Admin access: a token, sent as a Bearer token, whose scope allows the call; every change
names the token that made it, and the audit trail shows it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.integration.harness import ADMIN_TOKEN, FINANCE_TOKEN, SUPPORT_TOKEN
from tests.processes import ServiceProcess
from tests.stack import tollway_cli
from tests.support import unique

pytestmark = pytest.mark.integration


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_tokens_need_the_bearer_scheme_and_the_right_scope(
    billing: ServiceProcess, metering: ServiceProcess
) -> None:
    async with httpx.AsyncClient(base_url=billing.url, timeout=30) as http:
        for headers in ({}, {"authorization": ADMIN_TOKEN}, _auth("not-a-token")):
            refused = await http.get("/v1/accounts", headers=headers)
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "invalid_admin_token"
        support = await http.get("/v1/accounts", headers=_auth(SUPPORT_TOKEN))
        assert support.status_code == 200  # support reads accounts and balances
        create = await http.post("/v1/accounts", json={"name": "x"}, headers=_auth(SUPPORT_TOKEN))
        assert create.status_code == 403 and create.json()["error"]["code"] == "insufficient_scope"
        finance = await http.post("/v1/accounts", json={"name": "x"}, headers=_auth(FINANCE_TOKEN))
        assert finance.status_code == 403
    async with httpx.AsyncClient(base_url=metering.url, timeout=30) as http:
        report = await http.get("/v1/reports/finance", headers=_auth(FINANCE_TOKEN))
        assert report.status_code == 200
        assert (
            await http.get("/v1/reports/finance", headers=_auth(SUPPORT_TOKEN))
        ).status_code == 403
        lookup = await http.get("/v1/requests/req_missing", headers=_auth(SUPPORT_TOKEN))
        assert lookup.status_code == 404  # allowed, and not found
        assert (
            await http.get("/v1/requests/req_x", headers=_auth(FINANCE_TOKEN))
        ).status_code == 403


async def test_every_change_names_who_made_it(billing: ServiceProcess) -> None:
    # The admin API may take up to COMMAND_WAIT_S (10 s) to answer a command.
    async with httpx.AsyncClient(
        base_url=billing.url, headers=_auth(ADMIN_TOKEN), timeout=30
    ) as http:
        account = (await http.post("/v1/accounts", json={"name": "Audited"})).json()["account_id"]
        await http.post(f"/v1/accounts/{account}/top-ups", json={"amount_usd": "12.50"})
        await http.post(
            f"/v1/accounts/{account}/adjustments",
            json={"amount_usd": "-2", "reason": "goodwill correction"},
        )
    done = tollway_cli(billing.url, None, ADMIN_TOKEN, "--json", "audit", "--account", account)
    assert done.returncode == 0, done.stderr
    trail = json.loads(done.stdout)["data"]
    assert [(c["command"], c["actor"], c["outcome"]) for c in trail] == [
        ("balance.adjust", "env", "applied"),
        ("balance.top_up", "env", "applied"),
        ("account.create", "env", "applied"),
    ]
    assert trail[0]["reason"] == "goodwill correction" and trail[1]["amount_nano"] == 12_500_000_000


async def test_the_cli_takes_json_anywhere_and_escapes_control_characters(
    billing: ServiceProcess, kafka_bootstrap: str
) -> None:
    # The admin API may take up to COMMAND_WAIT_S (10 s) to answer a command.
    async with httpx.AsyncClient(
        base_url=billing.url, headers=_auth(ADMIN_TOKEN), timeout=30
    ) as http:
        account = (await http.post("/v1/accounts", json={"name": "Plain"})).json()["account_id"]
    before = tollway_cli(billing.url, None, ADMIN_TOKEN, "--json", "balance", account)
    after = tollway_cli(billing.url, None, ADMIN_TOKEN, "balance", account, "--json")
    assert json.loads(before.stdout)["account_id"] == json.loads(after.stdout)["account_id"]
    # A name that slipped into the log before names were checked is still printed inert.
    from aiokafka import AIOKafkaProducer

    from schemas.events import CreateAccount, encode_event
    from schemas.topics import BILLING_COMMANDS

    hostile = CreateAccount.model_construct(
        account_id="acc_escape_test",
        name="Evil\x1b]0;pwned\x07\x1b[2J",
        plan=__import__("schemas.events", fromlist=["Plan"]).Plan(),
        idempotency_key="create:acc_escape_test",
        actor=None,
        event_id="cmd-escape-test",
        occurred_at=__import__("datetime").datetime.now(__import__("datetime").UTC),
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    await producer.send_and_wait(
        BILLING_COMMANDS.name, encode_event(hostile)[0], key=b"acc_escape_test"
    )
    await producer.stop()
    from tests.support import wait_until

    def listed() -> bool:
        shown = tollway_cli(billing.url, None, ADMIN_TOKEN, "accounts", "list")
        return "acc_escape_test" in shown.stdout

    wait_until(listed, what="the account listed")
    shown = tollway_cli(billing.url, None, ADMIN_TOKEN, "accounts", "list").stdout
    line = next(ln for ln in shown.splitlines() if "acc_escape_test" in ln)
    assert "\x1b" not in line and "\x07" not in line and "Evil\\x1b]0;pwned\\x07" in line


def test_a_token_made_with_the_cli_works_at_once_and_a_revoked_one_stops_at_once(
    billing: ServiceProcess,
    metering: ServiceProcess,
    tokens_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As an operator rotates a leaked token: no restart, and nothing of it left working."""
    monkeypatch.setenv("TOLLWAY_ADMIN_TOKENS_FILE", str(tokens_file))
    name = unique("desk")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return tollway_cli(billing.url, metering.url, "", "tokens", *args)

    made = cli("create", name, "--scope", "support")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("twadm_") and secret not in tokens_file.read_text()
    assert json.loads(cli("list", "--json").stdout)["tokens"][-1] == {
        "name": name,
        "scopes": ["support"],
    }
    with httpx.Client(timeout=30) as http:
        for url in (f"{billing.url}/v1/whoami", f"{metering.url}/v1/whoami"):
            answer = http.get(url, headers=_auth(secret))
            assert answer.json() == {"name": name, "scopes": ["support"]}, url

        revoked = cli("revoke", name)
        assert revoked.returncode == 0 and f"token '{name}' revoked" in revoked.stdout
        for url in (f"{billing.url}/v1/whoami", f"{metering.url}/v1/whoami"):
            assert http.get(url, headers=_auth(secret)).status_code == 401, url
        # The others in the file keep working.
        support = http.get(f"{billing.url}/v1/whoami", headers=_auth(SUPPORT_TOKEN))
        assert support.status_code == 200

    again = cli("revoke", name)
    assert again.returncode == 1 and f"no token named '{name}'" in again.stderr
    assert "Traceback" not in again.stderr
