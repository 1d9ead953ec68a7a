"""Helpers for tests that run real services: the test catalog, provisioning keys and
accounts straight onto their topics, and a tap on the request events."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import string
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.events import (
    KEY_PREFIX_LENGTH,
    AccountStatusChanged,
    ApiKeyRecorded,
    Event,
    decode_event,
    encode_event,
)
from schemas.topics import ACCOUNT_STATUS, API_KEYS, REQUESTS
from tests.processes import ServiceProcess
from tests.support import eventually, unique

#: The admin token every test service shares (billing's admin API, metering's reports).
ADMIN_TOKEN = "test-admin-token"

CATALOG = """
[[models]]
id = "sim-small"
aliases = ["gpt-4o-mini"]
power = 1
max_output_tokens = 4096
prices = {{ input = "0.15", output = "0.60", cache_read = "0.075" }}
  [[models.deployments]]
  name = "sim-small-a"
  base_url = "{sim}/v1"
  upstream_model = "sim-small"
  [[models.deployments]]
  name = "sim-small-zdr"
  base_url = "{sim}/v1"
  upstream_model = "sim-zdr"
  zdr = true

[[models]]
id = "sim-large"
aliases = ["claude-sonnet-latest"]
power = 3
prices = {{ input = "2.50", output = "10.00", cache_read = "1.25" }}
  [[models.deployments]]
  name = "sim-large-a"
  base_url = "{sim}/v1"
  upstream_model = "sim-large"

[[models]]
id = "flaky"
prices = {{ input = "1", output = "1" }}
  [[models.deployments]]
  name = "flaky-dead"
  base_url = "http://127.0.0.1:{dead}/v1"
  upstream_model = "sim-small"
  [[models.deployments]]
  name = "flaky-live"
  base_url = "{sim}/v1"
  upstream_model = "sim-small"

[[models]]
id = "slow"
prices = {{ input = "1", output = "1" }}
  [[models.deployments]]
  name = "slow-a"
  base_url = "{sim}/v1"
  upstream_model = "sim-slow"
  timeout_s = 1.0

[[models]]
id = "no-tools"
tools = false
streaming = false
prices = {{ input = "1", output = "1" }}
  [[models.deployments]]
  name = "no-tools-a"
  base_url = "{sim}/v1"
  upstream_model = "sim-small"

# Only the price-change test sets prices on this model, so other tests keep catalog prices.
[[models]]
id = "price-lab"
prices = {{ input = "0.15", output = "0.60", cache_read = "0.075" }}
  [[models.deployments]]
  name = "price-lab-a"
  base_url = "{sim}/v1"
  upstream_model = "sim-small"

[[groups]]
id = "tollway-auto"
members = ["sim-large", "sim-small"]
"""


def gateway_env(
    kafka: str, catalog: Path, spool: Path, port: int, metering: str = "http://127.0.0.1:9"
) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "TOLLWAY_CATALOG": str(catalog),
        "TOLLWAY_GATEWAY_PORT": str(port),
        "TOLLWAY_GATEWAY_SPOOL_DIR": str(spool),
        "TOLLWAY_MAX_BODY_BYTES": str(256 * 1024),
        "TOLLWAY_METERING_URL": metering,
        "TOLLWAY_ADMIN_TOKEN": ADMIN_TOKEN,
    }


@dataclass
class Tenant:
    account_id: str
    key_id: str
    secret: str
    sequence: int = 1


def new_secret() -> str:
    alphabet = string.ascii_letters + string.digits
    return "tw_" + "".join(secrets.choice(alphabet) for _ in range(40))


async def publish(kafka: str, topic: str, key: str, event: Event) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        value, headers = encode_event(event)
        await producer.send_and_wait(topic, value, key=key.encode(), headers=headers)
    finally:
        await producer.stop()


def key_record(tenant: Tenant, status: str = "active", **extra: Any) -> ApiKeyRecorded:
    return ApiKeyRecorded(
        key_id=tenant.key_id,
        account_id=tenant.account_id,
        name="test",
        prefix=tenant.secret[:KEY_PREFIX_LENGTH],
        key_hash=hashlib.sha256(tenant.secret.encode()).hexdigest(),
        status=status,
        created_at=datetime.now(UTC),
        **extra,
    )  # type: ignore[arg-type]


def status_record(
    tenant: Tenant, status: str = "active", balance_nano: int = 10 * 10**9, **plan: Any
) -> AccountStatusChanged:
    tenant.sequence += 1
    return AccountStatusChanged(
        account_id=tenant.account_id,
        name="test",
        status=status,  # type: ignore[arg-type]
        sequence=tenant.sequence,
        balance_nano=balance_nano,
        held_nano=0,
        available_nano=balance_nano,
        month_tokens=0,
        **plan,
    )


class Provisioner:
    def __init__(self, kafka: str, gateway: ServiceProcess) -> None:
        self.kafka, self.gateway = kafka, gateway

    async def tenant(self, status: str = "active", **plan: Any) -> Tenant:
        tenant = Tenant(unique("acc"), unique("key"), new_secret())
        await publish(
            self.kafka,
            ACCOUNT_STATUS.name,
            tenant.account_id,
            status_record(tenant, status, **plan),
        )
        await publish(self.kafka, API_KEYS.name, tenant.key_id, key_record(tenant))
        await self.wait_status(tenant, status)
        return tenant

    async def set_status(self, tenant: Tenant, status: str, **plan: Any) -> None:
        await publish(
            self.kafka,
            ACCOUNT_STATUS.name,
            tenant.account_id,
            status_record(tenant, status, **plan),
        )
        await self.wait_status(tenant, status)

    async def wait_status(self, tenant: Tenant, status: str) -> None:
        async def probe() -> Any:
            async with httpx.AsyncClient() as client:
                r = await client.get(
                    self.gateway.url + "/v1/balance",
                    headers={"authorization": f"Bearer {tenant.secret}"},
                )
                return r.json().get("status") if r.status_code == 200 else r.status_code

        await eventually(probe, lambda s: s == status, timeout=10, what=f"gateway sees {status}")


class EventTap:
    """Every request event written since the tap started, by request_id."""

    def __init__(self, kafka: str) -> None:
        self.kafka = kafka
        self.by_request: dict[str, list[Event]] = defaultdict(list)
        self.raw_count = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka, enable_auto_commit=False, isolation_level="read_committed"
        )
        await consumer.start()
        partitions = [TopicPartition(REQUESTS.name, p) for p in range(REQUESTS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)
        self._task = asyncio.create_task(self._run(consumer))

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    for record in records:
                        event = decode_event(record.value)
                        self.raw_count += 1
                        self.by_request[getattr(event, "request_id", "")].append(event)
        finally:
            await consumer.stop()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def both(self, request_id: str, timeout: float = 10) -> tuple[Any, Any]:
        """The request's started and completed events, once both arrived."""

        async def probe() -> list[Event]:
            return list(self.by_request.get(request_id, []))

        events = await eventually(
            probe,
            lambda evs: {e.TYPE for e in evs} >= {"request.started", "request.completed"},
            timeout=timeout,
            what=f"events of {request_id}",
        )
        started = [e for e in events if e.TYPE == "request.started"]
        completed = [e for e in events if e.TYPE == "request.completed"]
        assert len({e.event_id for e in started}) == 1, started
        assert len({e.event_id for e in completed}) == 1, completed
        return started[0], completed[0]
