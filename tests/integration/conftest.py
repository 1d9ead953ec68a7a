"""Real services for integration tests: the simulator, a test catalog and a gateway over the
session's broker, plus provisioning and an event tap (helpers in ``harness``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import ServiceProcess
from tests.support import free_port

from .harness import ADMIN_TOKEN, CATALOG, EventTap, Provisioner, gateway_env

__all__ = ["ADMIN_TOKEN"]


@pytest.fixture(scope="session")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    sim = ServiceProcess(
        "services.simulator",
        free_port(),
        {"SIM_MODELS": "sim-small,sim-large,sim-zdr,sim-slow", "SIM_OUTPUT_TOKENS": "12"},
        tmp_path_factory.mktemp("logs"),
    )
    sim.env["TOLLWAY_SIMULATOR_PORT"] = str(sim.port)
    yield sim.start()
    sim.stop()


@pytest.fixture(scope="session")
def catalog_file(simulator: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "catalog.toml"
    path.write_text(CATALOG.format(sim=simulator.url, dead=free_port()))
    return path


@pytest.fixture(scope="session")
def gateway(
    kafka_bootstrap: str,
    catalog_file: Path,
    metering: ServiceProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    port = free_port()
    spool = tmp_path_factory.mktemp("spool")
    env = gateway_env(kafka_bootstrap, catalog_file, spool, port, metering=metering.url)
    gw = ServiceProcess("services.gateway", port, env, tmp_path_factory.mktemp("logs"))
    yield gw.start(health="/readyz")
    gw.stop()


@pytest.fixture
def provision(kafka_bootstrap: str, gateway: ServiceProcess) -> Provisioner:
    return Provisioner(kafka_bootstrap, gateway)


@pytest.fixture(scope="session")
async def tap(kafka_bootstrap: str) -> AsyncIterator[EventTap]:
    event_tap = EventTap(kafka_bootstrap)
    await event_tap.start()
    yield event_tap
    await event_tap.stop()


@pytest.fixture
async def sim_reset(simulator: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=simulator.url) as client:
        await client.post("/_sim/reset")
        yield client
        await client.post("/_sim/reset")


@pytest.fixture(scope="session")
def billing(
    kafka_bootstrap: str, catalog_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    port = free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TOLLWAY_CATALOG": str(catalog_file),
        "TOLLWAY_BILLING_PORT": str(port),
        "TOLLWAY_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    service = ServiceProcess("services.billing", port, env, tmp_path_factory.mktemp("logs"))
    yield service.start(health="/readyz")
    service.stop()


@pytest.fixture(scope="session")
def metering(
    kafka_bootstrap: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    port = free_port()
    folder = tmp_path_factory.mktemp("metering-clickhouse")
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TOLLWAY_METERING_PORT": str(port),
        "CLICKHOUSE_URL": f"chdb://{folder}",
        "TOLLWAY_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    service = ServiceProcess("services.metering", port, env, tmp_path_factory.mktemp("logs"))
    yield service.start()
    service.stop()
