"""Billing through its public surfaces: the tollway CLI, the admin API and the gateway, with the
real broker. Costs are recomputed here from the catalog's prices and the reported usage."""

from __future__ import annotations

import json
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from aiokafka.partitioner import DefaultPartitioner

from schemas.events import LedgerEntryRecorded, decode_event
from schemas.topics import ACCOUNT_PARTITIONS, BILLING_COMMANDS, DEAD_LETTER, LEDGER
from tests.integration.conftest import ADMIN_TOKEN
from tests.processes import ServiceProcess
from tests.stack import tollway_cli
from tests.support import eventually, free_port, read_all

pytestmark = pytest.mark.integration

# sim-small in the test catalog: USD per 1M tokens
IN, OUT, CACHED = Decimal("0.15"), Decimal("0.60"), Decimal("0.075")


def tollway(billing: ServiceProcess, *args: str) -> dict[str, Any]:
    done = tollway_cli(billing.url, None, ADMIN_TOKEN, *args, "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def funded(billing: ServiceProcess, name: str, usd: str, *plan: str) -> tuple[str, str]:
    """A new account topped up with ``usd`` (a service fee is deducted) and its first key's
    secret, through the CLI as an operator would."""
    account = tollway(billing, "accounts", "create", name, *plan)["account_id"]
    tollway(billing, "topup", account, usd)
    return account, tollway(billing, "keys", "create", account)["secret"]


def tollway_fails(billing: ServiceProcess, *args: str, token: str = ADMIN_TOKEN) -> str:
    done = tollway_cli(billing.url, None, token, *args)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith("tollway: ") and "request_id req_" in done.stderr
    return done.stderr


def expected_cost_nano(usage: Any) -> int:
    cached = usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else 0
    exact = (
        (usage.prompt_tokens - cached) * IN + cached * CACHED + usage.completion_tokens * OUT
    ) * 1000  # nano-USD per token = USD per 1M * 1000
    return int(exact.quantize(Decimal(1), rounding="ROUND_HALF_EVEN"))


async def balance_nano(billing: ServiceProcess, account: str) -> int:
    return int(tollway(billing, "balance", account)["balance_nano"])


async def ledger_of(kafka: str, account: str) -> list[LedgerEntryRecorded]:
    entries = [decode_event(r.value) for r in await read_all(kafka, LEDGER.name)]
    return [e for e in entries if isinstance(e, LedgerEntryRecorded) and e.account_id == account]


def funded_accounts(billing: ServiceProcess, n: int, name: str) -> tuple[list[str], list[str]]:
    """``n`` accounts with 100 USD and a key each: (account ids, secrets)."""
    accounts = [
        tollway(billing, "accounts", "create", f"{name} {i}")["account_id"] for i in range(n)
    ]
    for account in accounts:
        tollway(billing, "topup", account, "100")
    return accounts, [tollway(billing, "keys", "create", a)["secret"] for a in accounts]


def one_account_a_partition(billing: ServiceProcess, name: str) -> tuple[list[str], list[str]]:
    """An account (100 USD and a key) on each partition of the account topics, as the
    producers' default partitioner places them: load on these reaches every consumer that
    owns any partition (six accounts made at random leave one consumer of two with none
    of them one time in 64)."""
    every = list(range(ACCOUNT_PARTITIONS))
    place = DefaultPartitioner()
    chosen: dict[int, str] = {}
    for i in range(20 * ACCOUNT_PARTITIONS):
        if len(chosen) == ACCOUNT_PARTITIONS:
            break
        account = tollway(billing, "accounts", "create", f"{name} {i}")["account_id"]
        chosen.setdefault(place(account.encode(), every, every), account)
    accounts = [chosen[p] for p in every]  # a KeyError here: a partition no account reached
    for account in accounts:
        tollway(billing, "topup", account, "100")
    return accounts, [tollway(billing, "keys", "create", a)["secret"] for a in accounts]


def another_billing(kafka: str, catalog: Path, folder: Path, instance: str) -> ServiceProcess:
    """A second billing process in the same consumer group (not started)."""
    port = free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "TOLLWAY_CATALOG": str(catalog),
        "TOLLWAY_BILLING_PORT": str(port),
        "TOLLWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "TOLLWAY_BILLING_INSTANCE": instance,
    }
    return ServiceProcess("services.billing", port, env, folder)


async def group_settled(kafka: str, billing: ServiceProcess) -> None:
    """Wait until ``billing`` is the billing group's only member, the group is stable, and a
    new command applies at once: a process that left the group without saying so (frozen,
    then stopped) stays a member until its session times out, and holds its partitions
    meanwhile; the tests after this one must not meet that."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def group() -> tuple[str, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
        await admin.start()
        try:
            (response,) = await admin.describe_consumer_groups(["tollway-billing"])
        finally:
            await admin.close()
        described = response.groups[0]
        return str(described[2]), len(described[5])  # state, members

    await eventually(group, lambda g: g == ("Stable", 1), timeout=60, what="one stable member")

    async def created() -> str:
        return str(tollway(billing, "accounts", "create", "Settled")["outcome"])

    await eventually(created, lambda outcome: outcome == "applied", timeout=60, what="settled")


async def charged_once_each(
    kafka: str, billing: ServiceProcess, accounts: list[str], served: list[str], timeout: float
) -> None:
    """Wait until every request in ``served`` is charged and each account's balance is the sum
    of its ledger; fail naming what is missing or doubled (not the whole ledger)."""

    async def settled() -> tuple[int, list[str], dict[str, int], bool]:
        charges: Counter[str] = Counter()
        balanced = True
        for account in accounts:
            entries = await ledger_of(kafka, account)
            charges.update(e.request_id for e in entries if e.kind == "charge" and e.request_id)
            balanced &= sum(e.amount_nano for e in entries) == await balance_nano(billing, account)
        missing = sorted(set(served) - set(charges))[:3]
        doubled = {rid: n for rid, n in charges.items() if n > 1}
        return len(charges), missing, doubled, balanced

    charged, _, doubled, _ = await eventually(
        settled,
        lambda t: t[0] >= len(served) and not t[1] and t[3],
        timeout=timeout,
        what=f"{len(served)} requests charged (count, first missing, doubled, balanced)",
    )
    assert doubled == {}, f"{len(doubled)} requests charged more than once"
    assert charged == len(served), "charges for requests nobody was served"


async def test_top_up_charge_block_and_unblock_end_to_end(
    kafka_bootstrap: str, billing: ServiceProcess, gateway: ServiceProcess
) -> None:
    account = tollway(billing, "accounts", "create", "Acme")["account_id"]
    topped = tollway(billing, "topup", account, "10.00", "--idempotency-key", "first")
    assert topped["balance"] == "9.500000000"  # 5% service fee deducted
    again = tollway(billing, "topup", account, "10.00", "--idempotency-key", "first")
    assert again["outcome"] == "duplicate" and again["balance"] == "9.500000000"
    key = tollway(billing, "keys", "create", account, "--name", "ci")
    assert key["secret"].startswith("tw_") and key["prefix"] == key["secret"][:12]

    client = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=key["secret"], max_retries=0)

    async def usable() -> int:
        try:
            await client.models.list()
            return 200
        except openai.APIStatusError as exc:
            return exc.status_code

    await eventually(usable, lambda s: s == 200, what="the gateway knows the new key")
    before = await balance_nano(billing, account)
    raw = await client.chat.completions.with_raw_response.create(
        model="sim-small", messages=[{"role": "user", "content": "hello"}], max_tokens=7
    )
    reply = raw.parse()
    cost = expected_cost_nano(reply.usage)
    await eventually(
        lambda: balance_nano(billing, account),
        lambda b: b == before - cost,
        what="the exact charge",
    )
    # The client was told that cost: exactly in a header, as OpenRouter's usage.cost too.
    assert Decimal(raw.headers["x-tollway-cost-usd"]) * 10**9 == cost
    assert reply.usage is not None and reply.usage.model_extra is not None
    assert reply.usage.model_extra["cost"] == pytest.approx(cost / 10**9, rel=1e-9)
    # A stream's last usage chunk says its cost too, and it is what billing charges.
    before = await balance_nano(billing, account)
    stream = await client.chat.completions.create(
        model="sim-small",
        messages=[{"role": "user", "content": "stream please"}],
        max_tokens=9,
        stream=True,
        stream_options={"include_usage": True},
    )
    last = [chunk async for chunk in stream][-1]
    assert last.usage is not None and last.usage.model_extra is not None
    streamed = round(Decimal(str(last.usage.model_extra["cost"])) * 10**9)
    assert streamed == expected_cost_nano(last.usage)
    await eventually(
        lambda: balance_nano(billing, account),
        lambda b: b == before - streamed,
        what="the streamed request's exact charge",
    )

    # Exhaust: a debit adjustment to just above zero, then one request takes it below.
    left = await balance_nano(billing, account)
    tollway(billing, "adjust", account, f"-{Decimal(left - 1) / 10**9}", "--reason", "test")
    await client.chat.completions.create(
        model="sim-small", max_tokens=5, messages=[{"role": "user", "content": "x"}]
    )

    async def refused() -> int:
        try:
            await client.chat.completions.create(
                model="sim-small", max_tokens=5, messages=[{"role": "user", "content": "x"}]
            )
            return 200
        except openai.APIStatusError as exc:
            return exc.status_code

    # The gateway may refuse before billing's status says so (it counts what it let through).
    await eventually(refused, lambda s: s == 402, what="402 once the balance is gone")

    async def shown() -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            auth = {"authorization": f"Bearer {key['secret']}"}
            return dict((await http.get(gateway.url + "/v1/balance", headers=auth)).json())

    mine = await eventually(
        shown, lambda b: b["status"] == "insufficient_balance", what="billing's status"
    )
    assert mine["available_nano"] <= 0

    tollway(billing, "topup", account, "20")
    topped_at = time.monotonic()
    await eventually(refused, lambda s: s == 200, timeout=5, interval=0.05, what="unblocked")
    assert time.monotonic() - topped_at < 1.0

    async def ledger_and_balance() -> tuple[int, int, list[LedgerEntryRecorded]]:
        entries = await ledger_of(kafka_bootstrap, account)
        return sum(e.amount_nano for e in entries), await balance_nano(billing, account), entries

    _, _, entries = await eventually(
        ledger_and_balance,
        lambda t: t[0] == t[1],
        what="the balance equal to the sum of its ledger",
    )
    assert len({e.entry_id for e in entries}) == len(entries)
    assert [e.kind for e in entries][:2] == ["top_up", "service_fee"]


async def test_revoked_key_is_refused_within_a_second(
    billing: ServiceProcess, gateway: ServiceProcess
) -> None:
    account = tollway(billing, "accounts", "create", "Revokee")["account_id"]
    tollway(billing, "topup", account, "10")
    key = tollway(billing, "keys", "create", account)
    headers = {"authorization": f"Bearer {key['secret']}"}
    async with httpx.AsyncClient(base_url=gateway.url) as http:

        async def status() -> int:
            return (await http.get("/v1/models", headers=headers)).status_code

        await eventually(status, lambda s: s == 200, what="key usable")
        tollway(billing, "keys", "revoke", key["key_id"])
        revoked_at = time.monotonic()
        await eventually(status, lambda s: s == 401, timeout=5, interval=0.02, what="revoked")
        assert time.monotonic() - revoked_at < 1.0
    listed = tollway(billing, "keys", "list", account)["data"]
    assert [k["status"] for k in listed] == ["revoked"]
    assert "secret" not in listed[0] and "key_hash" not in listed[0]
    again = tollway_fails(billing, "keys", "revoke", key["key_id"])
    assert "is already revoked" in again and "key_revoked" in again


async def test_bad_input_gets_clear_errors(billing: ServiceProcess, kafka_bootstrap: str) -> None:
    account = tollway(billing, "accounts", "create", "Careful")["account_id"]
    assert "at least" in tollway_fails(billing, "topup", account, "9.99")
    assert "invalid_amount" in tollway_fails(billing, "topup", account, "-5")
    assert "invalid_amount" in tollway_fails(billing, "topup", account, "ten")
    assert "invalid_amount" in tollway_fails(billing, "topup", account, "1.0000000001")
    assert "account_not_found" in tollway_fails(billing, "topup", "acc_nope", "10")
    assert "invalid_admin_token" in tollway_fails(billing, "balance", account, token="wrong")
    async with httpx.AsyncClient(
        base_url=billing.url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as http:
        floats = await http.post(f"/v1/accounts/{account}/top-ups", json={"amount_usd": 10.5})
        assert floats.status_code == 400 and floats.json()["error"]["param"] == "amount_usd"
        garbage = await http.post("/v1/accounts", content=b"{nope")
        assert garbage.status_code == 400 and garbage.json()["error"]["request_id"]

    # A malformed command on the topic goes to the dead-letter topic; billing keeps going.
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    await producer.send_and_wait(
        BILLING_COMMANDS.name, b'{"type":"balance.top_up","version":1}', key=account.encode()
    )
    await producer.stop()
    assert tollway(billing, "topup", account, "10")["balance"] == "9.500000000"

    async def dead_letters() -> list[str]:
        return [
            dict(r.headers).get("reason", b"").decode()
            for r in await read_all(kafka_bootstrap, DEAD_LETTER.name)
        ]

    reasons = await eventually(
        dead_letters,
        lambda rs: any("account_id" in r for r in rs),
        what="the malformed command dead-lettered",
    )
    assert reasons
