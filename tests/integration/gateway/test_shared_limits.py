"""A key's rate limit holds across gateway instances: two gateways on one broker share what
their callers took (``tollway.key-usage``), so the key gets its limit, not twice it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.harness import Provisioner, gateway_process
from tests.processes import ServiceProcess
from tests.support import eventually

pytestmark = pytest.mark.integration

CHAT = {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


@pytest.fixture(scope="module")
def second_gateway(
    kafka_bootstrap: str, catalog_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    yield from gateway_process(kafka_bootstrap, catalog_file, tmp_path_factory)


async def _status(gateway: ServiceProcess) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        return (await client.get("/readyz")).json()  # type: ignore[no-any-return]


async def _codes(gateway: ServiceProcess, secret: str, n: int) -> list[int]:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        return [
            (
                await client.post(
                    "/v1/chat/completions",
                    json=CHAT,
                    headers={"authorization": f"Bearer {secret}"},
                )
            ).status_code
            for _ in range(n)
        ]


async def _applied(receiver: ServiceProcess) -> int:
    return int((await _status(receiver))["limit_requests_applied"])


async def _until_heard(receiver: ServiceProcess, before: int, requests: int) -> None:
    """Until ``receiver`` has applied ``requests`` more requests reported by another."""

    async def heard() -> int:
        return await _applied(receiver) - before

    await eventually(
        heard, lambda n: n >= requests, timeout=10, interval=0.02, what="report applied"
    )


async def test_a_keys_request_limit_holds_across_two_gateways(
    kafka_bootstrap: str,
    gateway: ServiceProcess,
    second_gateway: ServiceProcess,
    provision: Provisioner,
) -> None:
    tenant = await provision.tenant(requests_per_minute=6)
    await Provisioner(kafka_bootstrap, second_gateway).wait_status(tenant, "active")
    before = await _applied(second_gateway)
    assert await _codes(gateway, tenant.secret, 4) == [200] * 4
    await _until_heard(second_gateway, before, 4)
    # Two left for the minute, whichever gateway serves them; alone it would allow six.
    before = await _applied(gateway)
    assert await _codes(second_gateway, tenant.secret, 3) == [200, 200, 429]
    await _until_heard(gateway, before, 2)
    assert await _codes(gateway, tenant.secret, 1) == [429]
