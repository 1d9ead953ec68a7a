"""The gateway in several processes on one port (``TOLLWAY_GATEWAY_WORKERS``): both workers
serve, each with its own spool; one SIGKILLed is started again under its number while the
other keeps serving; stopping the supervisor stops them all."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.procinfo import children
from tests.integration.harness import SUPPORT_TOKEN, Provisioner, gateway_process
from tests.processes import ServiceProcess
from tests.support import eventually

pytestmark = pytest.mark.integration

CHAT = {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


@pytest.fixture
def workers(
    kafka_bootstrap: str, catalog_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    yield from gateway_process(
        kafka_bootstrap, catalog_file, tmp_path_factory, TOLLWAY_GATEWAY_WORKERS="2"
    )


async def _served(gateway: ServiceProcess, secret: str, n: int) -> list[int]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        return [
            (
                await http.post(
                    "/v1/chat/completions", json=CHAT, headers={"authorization": f"Bearer {secret}"}
                )
            ).status_code
            for _ in range(n)
        ]


async def _requests_counted(gateway: ServiceProcess) -> float:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        text = (
            await http.get("/metrics", headers={"authorization": f"Bearer {SUPPORT_TOKEN}"})
        ).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("tollway_gateway_requests_total{")
    )


async def test_two_workers_serve_one_port_and_a_dead_one_comes_back(
    kafka_bootstrap: str, gateway: ServiceProcess, workers: ServiceProcess
) -> None:
    tenant = await Provisioner(kafka_bootstrap, gateway).tenant()
    assert workers.proc is not None
    pids = await eventually(
        lambda: asyncio.to_thread(children, workers.proc.pid),  # type: ignore[union-attr]
        lambda found: len(found) == 2,
        what="two workers",
    )
    # Each worker reads the keys on its own: wait until any request gets through, then many.
    await eventually(
        lambda: _served(workers, tenant.secret, 1), lambda codes: codes == [200], what="served"
    )
    assert await _served(workers, tenant.secret, 40) == [200] * 40
    # Whichever worker answers the scrape, it counts every worker's requests.
    for _ in range(4):
        assert await _requests_counted(workers) >= 41
    spool = workers.env["TOLLWAY_GATEWAY_SPOOL_DIR"]
    assert sorted(os.listdir(spool)) == ["worker-0", "worker-1"]

    doomed = pids[0]
    os.kill(doomed, signal.SIGKILL)
    replaced = await eventually(
        lambda: asyncio.to_thread(children, workers.proc.pid),  # type: ignore[union-attr]
        lambda found: len(found) == 2 and doomed not in found,
        what="the dead worker started again",
    )
    assert pids[1] in replaced  # the other one was left alone
    await eventually(
        lambda: _served(workers, tenant.secret, 20),
        lambda codes: codes == [200] * 20,
        what="both serving again",
    )

    workers.stop()  # SIGTERM to the supervisor
    assert not any(os.access(f"/proc/{pid}", os.F_OK) for pid in replaced)  # reaped
