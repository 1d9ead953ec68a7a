"""Accounts as teams, end to end through the gateway a member knows: an operator adds a
member; the member signs in, asks for developer access (an alert reaches the account's
webhook), is approved, and creates a named key with a 1 USD daily limit and a model
allow-list; another model is a 403, spending past the limit a 429 naming it while the
account's other key works; the free plan's quota answers 429 and lets the account in when
the month turns without a request; revoking access disables the member's key (403
``developer_access_revoked``); the webhook receiver, down for a while, gets each alert once
per event id, signed. Then the bad paths: throttled guessing, other people's keys, ended
sessions, admin routes with a member's token."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.billing.test_money_path import funded, tollway, tollway_fails
from tests.integration.billing.test_time import _tick
from tests.integration.dispatcher.test_webhooks import Receiver
from tests.integration.harness import ADMIN_TOKEN, gateway_process
from tests.processes import ServiceProcess
from tests.stack import tollway_cli
from tests.support import eventually, free_port, unique

pytestmark = pytest.mark.integration

#: ~10,000 prompt tokens: at 100 USD per 1M tokens ("pricey"), one request spends 1 USD.
LONG_PROMPT = "hello " * 10_500


@pytest.fixture(scope="module")
def front(
    kafka_bootstrap: str,
    catalog_file: Path,
    metering: ServiceProcess,
    billing: ServiceProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    """A gateway that forwards ``/v1/me`` to the test's billing."""
    yield from gateway_process(
        kafka_bootstrap,
        catalog_file,
        tmp_path_factory,
        metering.url,
        TOLLWAY_BILLING_URL=billing.url,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(down_for=3)
    yield r
    r.server.shutdown()


class Member:
    """A member's own client: the gateway, with their session token once signed in."""

    def __init__(self, gateway: ServiceProcess, email: str) -> None:
        self.http = httpx.AsyncClient(base_url=gateway.url, timeout=60)
        self.email, self.token = email, ""

    async def sign_in(self, password: str) -> httpx.Response:
        answer = await self.http.post(
            "/v1/me/sessions", json={"email": self.email, "password": password}
        )
        if answer.status_code == 201:
            self.token = answer.json()["token"]
        return answer

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        return await self.http.request(method, path, json=body, headers=headers)


async def _chat(
    gateway: ServiceProcess, secret: str, model: str, prompt: str = "Hi"
) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as http:
        answer = await http.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {secret}"},
            json={
                "model": model,
                "max_tokens": 16,
                "messages": [{"role": "user", "content": prompt}],
            },
        )
    body = answer.json()
    return answer.status_code, body.get("error") or body


async def _raw_status(gateway: ServiceProcess, path: str, token: str) -> int:
    """The status of GET ``path`` sent byte for byte (an HTTP client would tidy it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    head = f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
    writer.write((head + "Connection: close\r\n\r\n").encode())
    status = int((await reader.readline()).split()[1])
    writer.close()
    return status


def _error(answer: httpx.Response) -> tuple[int, str]:
    body = answer.json()
    assert body["error"]["request_id"] == answer.headers["x-request-id"]
    return answer.status_code, body["error"]["code"]


async def test_a_member_gets_access_makes_a_limited_key_and_alerts_reach_the_webhook(
    billing: ServiceProcess,
    metering: ServiceProcess,
    dispatcher: ServiceProcess,
    front: ServiceProcess,
    receiver: Receiver,
) -> None:
    # An operator: a free account with a quota, a webhook for its alerts, and a member.
    account, team_secret = funded(
        billing, "Team", "10", "--plan", "free", "--monthly-token-quota", "16000"
    )
    hook = tollway(billing, "webhooks", "add", account, receiver.url)
    receiver.secret = hook["secret"]
    email = f"{unique('dev')}@example.com"
    added = tollway(billing, "members", "add", account, email)
    assert (added["role"], added["developer_access"]) == ("developer", "none")

    # The member, through the gateway: a wrong password, then the right one.
    dev = Member(front, email)
    assert _error(await dev.sign_in("not the password")) == (401, "invalid_credentials")
    signed = await dev.sign_in(added["password"])
    assert signed.status_code == 201, signed.text
    assert signed.json()["token"].startswith("tws_")
    me = (await dev.call("GET", "/v1/me")).json()
    assert (me["email"], me["developer_access"], me["account"]["account_id"]) == (
        email,
        "none",
        account,
    )
    assert "password_hash" not in me

    # No keys before access; asking raises an alert; the operator approves.
    refused = await dev.call("POST", "/v1/me/keys", {"name": "ci"})
    assert _error(refused) == (403, "developer_access_required")
    asked = await dev.call("POST", "/v1/me/developer-access", {"note": "CI pipeline"})
    assert asked.status_code == 202 and asked.json()["developer_access"] == "requested"
    pending = tollway(billing, "members", "list", "--pending")["data"]
    assert [m["email"] for m in pending if m["account_id"] == account] == [email]
    approved = tollway(billing, "members", "approve", added["member_id"])
    assert approved["developer_access"] == "approved"

    # A named key with a 1 USD daily limit and an allow-list, its secret shown once.
    made = await dev.call(
        "POST",
        "/v1/me/keys",
        {
            "name": "ci",
            "spend_limit_usd": "1",
            "spend_period": "day",
            "allowed_models": ["pricey"],
        },
    )
    assert made.status_code == 201, made.text
    key = made.json()
    listed = (await dev.call("GET", "/v1/me/keys")).json()["data"]
    assert [(k["key_id"], k["name"]) for k in listed] == [(key["key_id"], "ci")]
    assert "secret" not in listed[0] and listed[0]["policy"]["spend_limit"] == "1.000000000"

    status, error = await eventually(
        lambda: _chat(front, key["secret"], "sim-small"),
        lambda r: r[0] == 403,
        what="the key at the gateway",
    )
    assert error["code"] == "model_not_allowed"
    status, body = await _chat(front, key["secret"], "pricey", LONG_PROMPT)
    assert status == 200 and float(body["usage"]["cost"]) >= 1.0  # the day's limit spent
    status, error = await eventually(
        lambda: _chat(front, key["secret"], "pricey"),
        lambda r: r[0] == 429,
        what="the key's limit",
    )
    assert error["code"] == "key_limit_reached"
    assert "spend limit of 1.000000000 USD per day" in error["message"]

    # The account's other key works, until the free plan's quota is used up...
    assert (await _chat(front, team_secret, "sim-small"))[0] == 200
    await eventually(
        lambda: _chat(front, team_secret, "sim-small", LONG_PROMPT[:30_000]),
        lambda r: r[0] == 429 and r[1]["code"] == "quota_exceeded",
        what="the quota",
    )
    # ...and the month turns without any request arriving.
    now = datetime.now(UTC)
    await _tick(
        billing.env["KAFKA_BOOTSTRAP_SERVERS"],
        account,
        datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC),
    )
    await eventually(
        lambda: _chat(front, team_secret, "sim-small"), lambda r: r[0] == 200, what="new month"
    )

    # Revoking access disables the member's key, not the account's.
    tollway(billing, "members", "revoke", added["member_id"], "--reason", "left the project")
    status, error = await eventually(
        lambda: _chat(front, key["secret"], "pricey"),
        lambda r: r[0] == 403,
        what="the key disabled",
    )
    assert error["code"] == "developer_access_revoked"
    assert (await _chat(front, team_secret, "sim-small"))[0] == 200

    # Every alert reached the webhook once, signed (the receiver checks), though it was down.
    wanted = {"member.developer_access_requested", "api_key.limit_reached", "account.quota_used"}

    async def accepted() -> list[tuple[str, dict[str, Any]]]:
        return list(receiver.accepted)

    got = await eventually(
        accepted,
        lambda a: (
            wanted <= {body["type"] for _, body in a}
            and sum(body["type"] == "account.quota_used" for _, body in a) >= 2
        ),
        timeout=60,
        what="the alerts at the webhook",
    )
    assert len(receiver.seen) > len(got)  # it was down for the first attempts
    ids = [webhook_id for webhook_id, _ in got]
    assert len(ids) == len(set(ids))
    request = next(b for _, b in got if b["type"] == "member.developer_access_requested")
    assert request["data"]["email"] == email and request["data"]["note"] == "CI pipeline"
    quota = sorted(b["data"]["percent"] for _, b in got if b["type"] == "account.quota_used")
    assert quota == [80, 100]

    # Replayed from metering's copy of the ledger, the statement closes on billing's balance.
    balance = tollway(billing, "balance", account)["balance_nano"]

    async def statement() -> dict[str, Any]:
        args = ("statement", account, "--from", "2026-01-01", "--json")
        done = tollway_cli(billing.url, metering.url, ADMIN_TOKEN, *args)
        return dict(json.loads(done.stdout)) if done.returncode == 0 else {}

    closed = await eventually(
        statement, lambda s: s.get("closing_balance_nano") == balance, what="the statement"
    )
    assert closed["breaks"] == [] and closed["opening_balance_nano"] == 0


async def test_sign_in_guessing_sessions_and_other_peoples_keys(
    billing: ServiceProcess, front: ServiceProcess
) -> None:
    account, _ = funded(billing, "Guarded", "10")
    owner_email, dev_email = (f"{unique(n)}@example.com" for n in ("owner", "dev"))
    owner_added = tollway(billing, "members", "add", account, owner_email, "--role", "owner")
    dev_added = tollway(billing, "members", "add", account, dev_email)
    assert owner_added["developer_access"] == "approved"
    assert "already a member" in tollway_fails(billing, "members", "add", account, dev_email)
    assert "email address" in tollway_fails(billing, "members", "add", account, "not-an-address")
    assert "No account" in tollway_fails(billing, "members", "add", "acc_missing", "x@example.com")
    assert "No member" in tollway_fails(billing, "members", "approve", "mem_missing")

    owner, dev = Member(front, owner_email), Member(front, dev_email)
    assert (await owner.sign_in(owner_added["password"])).status_code == 201
    assert (await dev.sign_in(dev_added["password"])).status_code == 201
    owners_key = (await owner.call("POST", "/v1/me/keys", {"name": "prod"})).json()

    # A developer sees and touches only their own keys; an owner, every key of the account.
    assert (await dev.call("GET", "/v1/me/keys")).json()["data"] == []
    assert _error(await dev.call("DELETE", f"/v1/me/keys/{owners_key['key_id']}")) == (
        404,
        "key_not_found",
    )
    owner_keys = (await owner.call("GET", "/v1/me/keys")).json()["data"]
    assert owners_key["key_id"] in {k["key_id"] for k in owner_keys}
    rotated = await owner.call("POST", f"/v1/me/keys/{owners_key['key_id']}/rotate", {})
    assert rotated.status_code == 200 and rotated.json()["secret"].startswith("tw_")
    revoked = await owner.call("DELETE", f"/v1/me/keys/{rotated.json()['key_id']}")
    assert revoked.status_code == 200

    # No path through /v1/me reaches billing's admin API, however it is spelt on the wire.
    for path in ("/v1/me/../accounts", "/v1/me/%2e%2e/accounts", "/v1/me/..%2Faccounts"):
        assert await _raw_status(front, path, ADMIN_TOKEN) == 404, path

    # A member's token is not an admin token, and bad bodies are 400s in the same shape.
    assert _error(await dev.call("GET", "/v1/accounts")) == (404, "not_found")  # not proxied
    async with httpx.AsyncClient(base_url=billing.url) as http:
        admin = await http.get("/v1/accounts", headers={"authorization": f"Bearer {dev.token}"})
    assert admin.status_code == 401
    assert _error(await dev.call("POST", "/v1/me/password", {"new_password": 3})) == (
        400,
        "invalid_request_error",
    )
    short = {"current_password": dev_added["password"], "new_password": "short"}
    assert _error(await dev.call("POST", "/v1/me/password", short))[0] == 400

    # A password change ends the member's other sessions; signing out ends this one.
    second = Member(front, dev_email)
    assert (await second.sign_in(dev_added["password"])).status_code == 201
    new = {"current_password": dev_added["password"], "new_password": "a much longer passphrase"}
    assert (await dev.call("POST", "/v1/me/password", new)).status_code == 200
    assert _error(await second.call("GET", "/v1/me")) == (401, "invalid_session")
    assert (await dev.call("GET", "/v1/me")).status_code == 200
    assert (await dev.call("DELETE", "/v1/me/sessions/current")).status_code == 200
    assert _error(await dev.call("GET", "/v1/me")) == (401, "invalid_session")
    assert _error(await dev.sign_in(dev_added["password"])) == (401, "invalid_credentials")
    assert (await dev.sign_in("a much longer passphrase")).status_code == 201

    # Guessing: five wrong passwords, then 429 with a Retry-After, even for the right one.
    guesser = Member(front, owner_email)
    for _ in range(5):
        assert _error(await guesser.sign_in("guess guess guess"))[0] == 401
    throttled = await guesser.sign_in(owner_added["password"])
    assert _error(throttled) == (429, "too_many_sign_in_attempts")
    assert int(throttled.headers["retry-after"]) > 0
    # An unknown address answers as a wrong password does.
    nobody = Member(front, f"{unique('nobody')}@example.com")
    assert _error(await nobody.sign_in("whatever it is")) == (401, "invalid_credentials")

    # Removing a member ends their session and revokes their keys for good.
    assert (await owner.call("GET", "/v1/me")).status_code == 200
    tollway(billing, "members", "remove", owner_added["member_id"], "--reason", "left")
    assert _error(await owner.call("GET", "/v1/me")) == (401, "invalid_session")
    keys = tollway(billing, "keys", "list", account)["data"]
    assert {k["status"] for k in keys if k.get("member_id") == owner_added["member_id"]} <= {
        "revoked",
        "expired",
    }


@pytest.fixture(scope="module")
def orphan(
    kafka_bootstrap: str, catalog_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """A gateway whose billing cannot be reached."""
    yield from gateway_process(
        kafka_bootstrap,
        catalog_file,
        tmp_path_factory,
        TOLLWAY_BILLING_URL=f"http://127.0.0.1:{free_port()}",
    )


async def test_members_are_told_to_retry_while_billing_is_unreachable(
    orphan: ServiceProcess,
) -> None:
    async with httpx.AsyncClient(base_url=orphan.url, timeout=30) as http:
        answer = await http.post(
            "/v1/me/sessions", json={"email": "a@example.com", "password": "whatever it is"}
        )
    assert _error(answer) == (503, "members_unavailable")
    assert answer.headers["retry-after"] == "5"
