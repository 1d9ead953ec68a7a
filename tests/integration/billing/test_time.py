"""Time passes for an account that sends nothing: month turns, hold and key expiry arrive as
``clock.tick`` events, written by billing every second here (TOLLWAY_CLOCK_TICK_S).

A month cannot be waited for, and neither can a 15-minute hold TTL: those tests write the
tick billing would write at that instant, which is exactly what billing applies (time enters
billing only as events), to the account's own partition, as billing does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from schemas.events import ClockTicked, decode_event, encode_event
from schemas.topics import ACCOUNT_STATUS, CLOCK, REQUESTS
from tests.factories import started
from tests.integration.billing.test_money_path import funded, tollway
from tests.integration.harness import publish
from tests.processes import ServiceProcess
from tests.support import eventually, read_all

pytestmark = pytest.mark.integration

HOLD_TTL = timedelta(seconds=900)  # billing's default (TOLLWAY_HOLD_TTL_S)


async def _tick(kafka: str, account: str, at: datetime) -> None:
    partition = DefaultPartitioner()(account.encode(), list(range(CLOCK.partitions)), [])
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        value, headers = encode_event(ClockTicked(partition=partition, occurred_at=at, by="test"))
        await producer.send_and_wait(CLOCK.name, value, partition=partition, headers=headers)
    finally:
        await producer.stop()


def _open_account(billing: ServiceProcess, *plan: str) -> tuple[str, str]:
    return funded(billing, "Clockwork", "10", *plan)


async def _answer(gateway: ServiceProcess, secret: str) -> tuple[int, str | None]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        response = await http.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {secret}"},
            json={"model": "sim-small", "messages": [{"role": "user", "content": "Hi"}]},
        )
    body = response.json()
    return response.status_code, body["error"]["code"] if response.status_code != 200 else None


async def test_a_quota_blocked_account_is_let_in_when_the_month_turns(
    kafka_bootstrap: str, billing: ServiceProcess, gateway: ServiceProcess
) -> None:
    account, secret = _open_account(billing, "--monthly-token-quota", "10")
    await eventually(lambda: _answer(gateway, secret), lambda r: r[0] == 200, what="key usable")
    # That request used the month's 10 tokens; from now on the account is refused, so it
    # sends billing nothing at all.
    await eventually(
        lambda: _answer(gateway, secret), lambda r: r == (429, "quota_exceeded"), what="quota"
    )
    used = tollway(billing, "balance", account)["month_tokens"]
    assert used >= 10
    now = datetime.now(UTC)
    next_month = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    await _tick(kafka_bootstrap, account, next_month)
    await eventually(lambda: _answer(gateway, secret), lambda r: r[0] == 200, what="new month")
    # The tick itself wrote the turn: a status of the new month with nothing used yet.
    statuses = [decode_event(r.value) for r in await read_all(kafka_bootstrap, ACCOUNT_STATUS.name)]
    mine = [s for s in statuses if getattr(s, "account_id", None) == account]
    turn = next(s for s in mine if s.occurred_at == next_month)  # type: ignore[attr-defined]
    assert (turn.status, turn.month_tokens) == ("active", 0)  # type: ignore[attr-defined]


async def test_an_orphaned_hold_stops_blocking_once_its_ttl_passes(
    kafka_bootstrap: str, billing: ServiceProcess, gateway: ServiceProcess
) -> None:
    account, secret = _open_account(billing)
    await eventually(lambda: _answer(gateway, secret), lambda r: r[0] == 200, what="key usable")
    # A gateway admitted a huge request and died before it completed: its hold (1M output
    # tokens of sim-large, 10 USD) is more than the 9.50 USD balance.
    placed = datetime.now(UTC)
    orphan = started(
        request_id="req_orphan_" + account,
        account_id=account,
        key_id="key_gone",
        model="sim-large",
        deployment="sim-large-1",
        max_tokens=1_000_000,
        prompt_tokens_estimate=10,
        occurred_at=placed,
    )
    await publish(kafka_bootstrap, REQUESTS.name, account, orphan)
    await eventually(
        lambda: _answer(gateway, secret),
        lambda r: r == (402, "insufficient_balance"),
        what="blocked by the hold",
    )
    await _tick(kafka_bootstrap, account, placed + HOLD_TTL - timedelta(seconds=5))
    await _tick(kafka_bootstrap, account, placed + HOLD_TTL + timedelta(seconds=5))
    await eventually(lambda: _answer(gateway, secret), lambda r: r[0] == 200, what="hold expired")
    shown = tollway(billing, "balance", account)
    assert shown["held_nano"] == 0 and shown["status"] == "active"


async def test_billing_marks_a_rotated_out_key_expired_by_itself(
    billing: ServiceProcess, gateway: ServiceProcess
) -> None:
    account, secret = _open_account(billing)
    old = tollway(billing, "keys", "list", account)["data"][0]["key_id"]
    rotated = tollway(billing, "keys", "rotate", old, "--overlap", "1")

    def status_of_old() -> str:
        keys = tollway(billing, "keys", "list", account)["data"]
        return str(next(k["status"] for k in keys if k["key_id"] == old))

    async def probe() -> str:
        return status_of_old()

    # No request, no command: billing's own clock ticks mark it.
    await eventually(probe, lambda s: s == "expired", what="the old key marked expired")
    assert await _answer(gateway, secret) == (401, "invalid_api_key")
    assert (await _answer(gateway, rotated["secret"]))[0] == 200
