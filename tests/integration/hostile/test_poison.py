"""An event a consumer cannot apply is parked (dead-letter topic, with the reason, and an
alert), its partition moves on, every other account keeps being served within seconds,
and health says what was parked."""

from __future__ import annotations

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from schemas.events import AccountSnapshot, EventParked, Plan, decode_event, encode_event
from schemas.topics import ALERTS, BILLING_COMMANDS, DEAD_LETTER, REQUESTS
from tests.integration.harness import ADMIN_TOKEN
from tests.processes import ServiceProcess
from tests.support import eventually, read_all

pytestmark = pytest.mark.integration


async def _send(kafka: str, topic: str, key: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def test_billing_parks_what_it_cannot_apply_and_serves_everyone_else(
    kafka_bootstrap: str, billing: ServiceProcess
) -> None:
    auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=billing.url, headers=auth, timeout=30) as http:
        victim = (await http.post("/v1/accounts", json={"name": "Victim"})).json()["account_id"]
        bystander = (await http.post("/v1/accounts", json={"name": "Bystander"})).json()
        # A snapshot written by mistake onto the commands topic: it decodes, but no command
        # handler takes it, and applying it fails in the middle of a batch.
        wrong = AccountSnapshot(
            account_id=victim,
            name="x",
            plan=Plan(),
            suspended=False,
            balance_nano=0,
            holds={},
            month="2026-12",
            month_tokens=0,
            last_top_up_nano=0,
            status="active",
            sequence=1,
            keys={},
            applied={},
            entries=0,
        )
        await _send(kafka_bootstrap, BILLING_COMMANDS.name, victim, encode_event(wrong)[0])
        for account in (bystander["account_id"], victim):  # both keep being served
            top_up = await http.post(f"/v1/accounts/{account}/top-ups", json={"amount_usd": "10"})
            assert top_up.status_code == 201 and top_up.json()["outcome"] == "applied"

        async def parked() -> list[EventParked]:
            alerts = [decode_event(r.value) for r in await read_all(kafka_bootstrap, ALERTS.name)]
            return [a for a in alerts if isinstance(a, EventParked) and a.account_id == victim]

        (alert,) = await eventually(parked, lambda found: len(found) == 1, what="the parked alert")
        assert alert.consumer == "billing" and alert.source.startswith(BILLING_COMMANDS.name)
        dead = [
            r
            for r in await read_all(kafka_bootstrap, DEAD_LETTER.name)
            if dict(r.headers).get("source", b"").decode() == alert.source
        ]
        assert len(dead) == 1 and dict(dead[0].headers)["reason"]
        health = await http.get("/healthz")
        assert health.status_code == 200 and health.json()["parked"] >= 1
        assert health.json()["last_parked"]["source"] == alert.source


async def test_metering_dead_letters_values_no_column_holds_and_keeps_ingesting(
    kafka_bootstrap: str, metering: ServiceProcess
) -> None:
    """A token count past 64 bits (the bug: Arrow's int64 overflowed, and the sink looped)."""
    poison = (
        b'{"type":"request.completed","version":1,"event_id":"poison-1",'
        b'"occurred_at":"2026-12-02T00:00:00Z","request_id":"req_poison","account_id":"acc_p",'
        b'"key_id":"k","model":"m","deployment":"d","surface":"openai.chat","stream":false,'
        b'"started_at":"2026-12-02T00:00:00Z","status":"succeeded","http_status":200,'
        b'"prompt_tokens":100000000000000000000000,"completion_tokens":1,'
        b'"cache_read_tokens":0,"cache_write_tokens":0,"usage_source":"upstream",'
        b'"latency_ms":1.0}'
    )
    auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=metering.url, headers=auth, timeout=30) as http:
        before = (await http.get("/healthz")).json()
        await _send(kafka_bootstrap, REQUESTS.name, "acc_p", poison)

        async def health() -> dict[str, object]:
            return dict((await http.get("/healthz")).json())

        after = await eventually(
            health,
            lambda h: int(h["dead_lettered"]) > int(before["dead_lettered"]),  # type: ignore[call-overload]
            what="the poison dead-lettered",
        )
        assert after["status"] == "ok"
