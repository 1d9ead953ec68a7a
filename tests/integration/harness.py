"""Helpers for tests that run real services: the test catalog, provisioning keys and
accounts straight onto their topics, and a tap on the request events."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import string
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openai
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.admin_access import digest
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
from tests.support import eventually, free_port, unique

#: The admin token every test service shares (billing's admin API, metering's reports).
ADMIN_TOKEN = "test-admin-token"
#: Named tokens with one scope each, from the tokens file the billing and metering fixtures
#: are given.
FINANCE_TOKEN = "test-finance-token"
SUPPORT_TOKEN = "test-support-token"


def write_tokens_file(path: Path) -> Path:
    tokens = [
        {"name": "finance-bot", "scopes": ["finance"], "sha256": digest(FINANCE_TOKEN)},
        {"name": "support-desk", "scopes": ["support"], "sha256": digest(SUPPORT_TOKEN)},
    ]
    path.write_text(json.dumps({"tokens": tokens}))
    return path


#: The test catalog (tests/integration/catalog.toml), with ``${sim}``, ``${redacted}`` and
#: ``${dead}`` to fill in.
CATALOG = string.Template((Path(__file__).parent / "catalog.toml").read_text())


#: The webhook master key billing and the dispatcher share in these tests (hex).
WEBHOOK_KEY = "5e" * 32
#: Retries a second or so apart: "down for a while" fits in a test.
WEBHOOK_RETRY_S = "0.5,1,1,1,1,2"


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
        # Its own token, support scope only, as deployed: not the operator's.
        "TOLLWAY_GATEWAY_TOKEN": SUPPORT_TOKEN,
        "TOLLWAY_ZDR_HEADER_ALIASES": "Wafer-ZDR",
    }


def gateway_process(
    kafka: str, catalog: Path, tmp: Any, metering: str = "http://127.0.0.1:9", **settings: str
) -> Iterator[ServiceProcess]:
    """For a fixture (``yield from``): a gateway process with ``gateway_env`` and
    ``settings`` over it (``TOLLWAY_…=value``), ready, stopped when the fixture ends. ``tmp``
    is pytest's ``tmp_path_factory``."""
    port = free_port()
    env = gateway_env(kafka, catalog, tmp.mktemp("spool"), port, metering) | settings
    gateway = ServiceProcess("services.gateway", port, env, tmp.mktemp("logs"))
    try:
        yield gateway.start(health="/readyz")
    finally:
        gateway.stop()


def openai_client(gateway: ServiceProcess, secret: str) -> openai.AsyncOpenAI:
    """The official async client on ``gateway``, without its retries (tests see each answer)."""
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)


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
        # Records no event model accepts (the hostile tests write some on purpose).
        self.undecodable: list[bytes] = []
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
                        self.raw_count += 1
                        try:
                            event = decode_event(record.value)
                        except ValueError:
                            self.undecodable.append(record.value)
                            continue
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
