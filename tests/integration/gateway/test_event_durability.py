"""Events survive Kafka going away: the gateway keeps serving, spools to disk, and drains
in order when Kafka returns, including after the gateway itself is killed."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.kafka.broker import KafkaBroker
from infra.kafka.topics import ensure_topics
from schemas.events import decode_event
from schemas.topics import REQUESTS
from tests.integration.harness import Provisioner, Tenant, gateway_env
from tests.processes import ServiceProcess
from tests.support import eventually, free_port, read_all

pytestmark = pytest.mark.integration


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    broker = KafkaBroker(tmp_path / "kafka", free_port(), free_port())
    broker.start()
    asyncio.run(ensure_topics(broker.bootstrap_servers))
    yield broker
    broker.stop()


def _gateway(
    broker: KafkaBroker, catalog: Path, spool: Path, port: int, logs: Path
) -> ServiceProcess:
    env = gateway_env(broker.bootstrap_servers, catalog, spool, port)
    return ServiceProcess("services.gateway", port, env, logs)


async def _chat(client: httpx.AsyncClient, tenant: Tenant, stream: bool) -> str:
    response = await client.post(
        "/v1/chat/completions",
        headers={"authorization": f"Bearer {tenant.secret}"},
        json={
            "model": "sim-small",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": stream,
            "max_tokens": 3,
        },
    )
    assert response.status_code == 200, response.text
    return response.headers["x-request-id"]


async def _events_by_request(broker: KafkaBroker) -> dict[str, dict[str, set[str]]]:
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for record in await read_all(broker.bootstrap_servers, REQUESTS.name):
        event = decode_event(record.value)
        found[event.request_id][event.TYPE].add(event.event_id)  # type: ignore[attr-defined]
    return found


async def _drained(gateway: ServiceProcess) -> bool:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        status = (await client.get("/readyz")).json()
    return not status["events_spooling"] and status["events_queued"] == 0


async def test_broker_outage_loses_and_doubles_nothing(
    own_broker: KafkaBroker, catalog_file: Path, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    gateway = _gateway(own_broker, catalog_file, spool, free_port(), tmp_path).start("/readyz")
    try:
        tenant = await Provisioner(own_broker.bootstrap_servers, gateway).tenant()
        sent: list[str] = []
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            sent += [await _chat(client, tenant, i % 2 == 0) for i in range(10)]
            await asyncio.to_thread(own_broker.stop)  # the broker goes away mid-traffic
            sent += [await _chat(client, tenant, i % 2 == 0) for i in range(15)]

            async def all_on_disk() -> bool:
                status = (await client.get("/readyz")).json()
                return bool(status["events_spooling"]) and status["events_queued"] == 0

            await eventually(all_on_disk, bool, timeout=20, what="every event spooled to disk")
            assert (spool / "events.log").stat().st_size > 0
            gateway.kill()  # and the gateway dies with events in its spool
            gateway.start("/healthz")
            await asyncio.to_thread(own_broker.start)
        await eventually(lambda: _drained(gateway), bool, timeout=30, what="spool drained")
        events = await _events_by_request(own_broker)
        missing = [
            rid for rid in sent if set(events[rid]) != {"request.started", "request.completed"}
        ]
        assert missing == [], f"{len(missing)} requests lost events"
        doubled = {
            rid: kinds
            for rid, kinds in events.items()
            if any(len(ids) != 1 for ids in kinds.values())
        }
        assert doubled == {}, "one request produced two distinct events of a kind"
    finally:
        gateway.stop()
