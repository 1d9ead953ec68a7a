"""Real processes killed and restarted, the real broker stopped, under a steady load. Each test
ends the same way: every request a client saw succeed is charged exactly once, at its priced
cost; the balance is the top-up minus those charges; metering's reconciliation finds nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from schemas.events import LedgerEntryRecorded, RequestCompleted, decode_event
from schemas.topics import LEDGER, REQUESTS
from tests.load import chat_once
from tests.pricing import cost_nano
from tests.support import eventually, read_all, unique

from .conftest import Cluster

#: Above the sum of each test's own waits, which fail first and say what they last saw.
pytestmark = [pytest.mark.faults, pytest.mark.timeout(360)]

MODEL = "sim-small"
TOP_UP_USD = 100
TOPPED_NANO = TOP_UP_USD * 10**9 * 95 // 100  # the 5% fee is deducted


@dataclass
class Load:
    """Clients sending a steady mix of streaming and non-streaming chats until stopped."""

    gateway: str
    secret: str
    succeeded: dict[str, int] = field(default_factory=dict)  # request_id -> expected cost
    failed: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self, clients: int = 4) -> Load:
        self._tasks = [asyncio.create_task(self._client(n)) for n in range(clients)]
        return self

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def more(self, n: int, timeout: float = 60) -> None:
        """Wait for ``n`` more successes."""
        target = len(self.succeeded) + n
        await eventually(
            lambda: asyncio.sleep(0, len(self.succeeded)),
            lambda done: done >= target,
            timeout=timeout,
            what=f"{n} more successful requests",
        )

    async def _client(self, n: int) -> None:
        headers = {"authorization": f"Bearer {self.secret}"}
        async with httpx.AsyncClient(base_url=self.gateway, headers=headers, timeout=30) as http:
            i = 0
            while not self._stop.is_set():
                i += 1
                outcome = await chat_once(http, MODEL, (i + n) % 2 == 0, f"{n}-{i}")
                if outcome is None:
                    self.failed += 1
                    await asyncio.sleep(0.05)
                else:
                    self.succeeded[outcome[0]] = outcome[1]


async def tenant(cluster: Cluster) -> tuple[str, str]:
    account = cluster.cli_json("accounts", "create", unique("faults"))["account_id"]
    cluster.cli_json("topup", account, str(TOP_UP_USD))
    secret = cluster.cli_json("keys", "create", account)["secret"]
    async with httpx.AsyncClient(
        base_url=cluster["gateway"].url, headers={"authorization": f"Bearer {secret}"}
    ) as http:
        await eventually(
            lambda: http.get("/v1/balance"),
            lambda r: r.status_code == 200 and r.json()["status"] == "active",
            what="the key and balance at the gateway",
        )
    return account, secret


async def charged_exactly_once(
    cluster: Cluster, account: str, succeeded: dict[str, int], timeout: float = 90
) -> None:
    assert succeeded, "no request succeeded"
    expected = TOPPED_NANO - sum(succeeded.values())

    async def balance() -> int:
        return int(cluster.cli_json("balance", account)["balance_nano"])

    await eventually(balance, lambda b: b == expected, timeout=timeout, what="the balance")
    entries = [
        e
        for r in await read_all(cluster.broker.bootstrap_servers, LEDGER.name)
        if isinstance(e := decode_event(r.value), LedgerEntryRecorded)
        and e.account_id == account
        and e.kind == "charge"
    ]
    counts = Counter(e.request_id for e in entries)
    assert {rid for rid, n in counts.items() if n > 1} == set(), "a request charged twice"
    assert set(counts) == set(succeeded), "charges differ from the requests served"
    assert {e.request_id: -e.amount_nano for e in entries} == succeeded

    # Metering has every request and charge (else reconciling would pass on missing rows).
    async def report() -> dict[str, Any]:
        found = cluster.cli_json("report", "finance", "--group-by", "account")
        rows = [r for r in found["rows"] if r["account_id"] == account]
        return rows[0] if rows else {}

    await eventually(
        report,
        lambda row: (
            row.get("revenue_nano") == sum(succeeded.values())
            and row.get("requests", 0) >= len(succeeded)
        ),
        timeout=timeout,
        what="metering's finance report",
    )

    async def reconciled() -> str:
        done = cluster.cli("reconcile", "--account", account)
        return f"{done.returncode} {done.stdout}{done.stderr}"

    await eventually(
        reconciled, lambda out: out.startswith("0 "), timeout=timeout, what="reconcile"
    )
    # The statement, replayed from metering's copy of the ledger, closes on billing's balance.
    statement = cluster.cli_json("statement", account, "--from", "2026-01-01")
    assert statement["breaks"] == [] and statement["opening_balance_nano"] == 0
    assert statement["closing_balance_nano"] == expected


async def test_billing_killed_under_load_charges_every_request_once(cluster: Cluster) -> None:
    account, secret = await tenant(cluster)
    load = Load(cluster["gateway"].url, secret).start()
    try:
        await load.more(20)
        cluster["billing"].kill()
        await load.more(20)  # the gateway keeps serving: billing is not on the request path
        await asyncio.to_thread(cluster.restart, "billing")
        await load.more(20)
    finally:
        await load.stop()
    await charged_exactly_once(cluster, account, load.succeeded)


async def test_metering_killed_under_load_reports_every_request_once(cluster: Cluster) -> None:
    account, secret = await tenant(cluster)
    load = Load(cluster["gateway"].url, secret).start()
    try:
        await load.more(20)
        cluster["metering"].kill()
        await load.more(20)
        await asyncio.to_thread(cluster.restart, "metering")
        await load.more(20)
    finally:
        await load.stop()
    await charged_exactly_once(cluster, account, load.succeeded)
    report = cluster.cli_json("report", "finance", "--group-by", "account")
    (row,) = [r for r in report["rows"] if r["account_id"] == account]
    assert row["requests"] == len(load.succeeded)  # each request reported once


async def test_broker_down_20s_gateway_keeps_serving_then_everything_catches_up(
    cluster: Cluster,
) -> None:
    account, secret = await tenant(cluster)
    load = Load(cluster["gateway"].url, secret).start()
    try:
        await load.more(20)
        await asyncio.to_thread(cluster.broker.stop)
        before = len(load.succeeded)
        await asyncio.sleep(20)  # the outage itself is the point: its length is the test
        served_during_outage = len(load.succeeded) - before
        await asyncio.to_thread(cluster.broker.start)
        await load.more(20, timeout=90)
    finally:
        await load.stop()
    assert served_during_outage > 20, "the gateway stopped serving while Kafka was down"
    await charged_exactly_once(cluster, account, load.succeeded, timeout=120)


async def test_gateway_killed_with_spooled_events_replays_them_once(cluster: Cluster) -> None:
    account, secret = await tenant(cluster)
    succeeded: dict[str, int] = {}
    gateway = cluster["gateway"]
    headers = {"authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers, timeout=30) as http:
        for i in range(5):
            outcome = await chat_once(http, MODEL, i % 2 == 0, f"before-{i}")
            assert outcome is not None
            succeeded[outcome[0]] = outcome[1]
        await asyncio.to_thread(cluster.broker.stop)
        for i in range(10):
            outcome = await chat_once(http, MODEL, i % 2 == 0, f"spooled-{i}")
            assert outcome is not None
            succeeded[outcome[0]] = outcome[1]

        async def status() -> dict[str, Any]:
            return dict((await http.get("/readyz")).json())

        await eventually(
            status,
            lambda s: s["events_spooling"] and s["events_queued"] == 0,
            timeout=30,
            what="every event in the spool",
        )
    gateway.kill()
    await asyncio.to_thread(cluster.broker.start)
    await asyncio.to_thread(cluster.restart, "gateway")
    await charged_exactly_once(cluster, account, succeeded, timeout=120)


async def test_upstream_failures_and_client_disconnects_charge_what_was_generated(
    cluster: Cluster,
) -> None:
    account, secret = await tenant(cluster)
    headers = {"authorization": f"Bearer {secret}"}
    sim = cluster["simulator"].url
    async with (
        httpx.AsyncClient(base_url=sim) as simulator,
        httpx.AsyncClient(base_url=cluster["gateway"].url, headers=headers, timeout=30) as http,
    ):
        await simulator.post("/_sim/faults", json={"mode": "status", "status": 500, "count": 1})
        await simulator.post("/_sim/faults", json={"mode": "drop", "after_chunks": 3, "count": 2})
        outcomes = [await chat_once(http, MODEL, True, f"fault-{i}") for i in range(4)]
        await simulator.post("/_sim/faults", json={"mode": "slow", "token_delay_ms": 50})
        body = {
            "model": MODEL,
            "stream": True,
            "max_tokens": 200,
            "messages": [{"role": "user", "content": "a long answer, please"}],
        }
        async with http.stream("POST", "/v1/chat/completions", json=body) as response:
            cancelled_id = response.headers["x-request-id"]
            lines = response.aiter_lines()
            for _ in range(6):
                await anext(lines)  # then hang up mid-stream
        await simulator.delete("/_sim/faults")

    # What the gateway recorded for each request, priced here independently.
    async def completed() -> dict[str, Any]:
        events = [
            decode_event(r.value)
            for r in await read_all(cluster.broker.bootstrap_servers, REQUESTS.name)
        ]
        return {
            e.request_id: e
            for e in events
            if isinstance(e, RequestCompleted) and e.account_id == account
        }

    ended = await eventually(completed, lambda c: cancelled_id in c and len(c) >= 5, what="events")
    assert ended[cancelled_id].status == "cancelled"
    assert 0 < ended[cancelled_id].completion_tokens < 200  # charged for what was generated
    dropped = [e for e in ended.values() if e.status == "failed" and e.completion_tokens > 0]
    assert len(dropped) == 2, ended  # two streams cut midway, each charged what it produced
    served = [o for o in outcomes if o is not None]
    assert len(served) == 2  # the 500 fails over to the other deployment; two streams are cut
    expected = {
        rid: cost_nano(
            MODEL, e.prompt_tokens - e.cache_read_tokens, e.cache_read_tokens, e.completion_tokens
        )
        for rid, e in ended.items()
        if e.prompt_tokens + e.completion_tokens > 0
    }
    assert {rid: cost for rid, cost in served} == {rid: expected[rid] for rid, _ in served}
    await charged_exactly_once(cluster, account, expected)
