"""Real services for integration tests: the simulator, a test catalog and a gateway over the
session's broker, plus provisioning and an event tap (helpers in ``harness``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests import containers
from tests.processes import ServiceProcess
from tests.support import free_port

from .harness import (
    ADMIN_TOKEN,
    CATALOG,
    WEBHOOK_KEY,
    WEBHOOK_RETRY_S,
    EventTap,
    Provisioner,
    gateway_process,
    write_tokens_file,
)

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
def redacted_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """An upstream that reports every model as "redacted", as some providers do."""
    sim = ServiceProcess(
        "services.simulator",
        free_port(),
        {"SIM_MODELS": "sim-small", "SIM_OUTPUT_TOKENS": "12", "SIM_REPORT_MODEL": "redacted"},
        tmp_path_factory.mktemp("logs"),
    )
    sim.env["TOLLWAY_SIMULATOR_PORT"] = str(sim.port)
    yield sim.start()
    sim.stop()


@pytest.fixture(scope="session")
def catalog_file(
    simulator: ServiceProcess,
    redacted_simulator: ServiceProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "catalog.toml"
    path.write_text(
        CATALOG.substitute(sim=simulator.url, dead=free_port(), redacted=redacted_simulator.url)
    )
    return path


@pytest.fixture(scope="session")
def gateway(
    kafka_bootstrap: str,
    catalog_file: Path,
    metering: ServiceProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    yield from gateway_process(kafka_bootstrap, catalog_file, tmp_path_factory, metering.url)


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
def tokens_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tokens_file(tmp_path_factory.mktemp("tokens") / "admin-tokens.json")


@pytest.fixture(scope="session")
def billing(
    kafka_bootstrap: str,
    catalog_file: Path,
    tokens_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    port = free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TOLLWAY_CATALOG": str(catalog_file),
        "TOLLWAY_BILLING_PORT": str(port),
        "TOLLWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "TOLLWAY_ADMIN_TOKENS_FILE": str(tokens_file),
        "TOLLWAY_CLOCK_TICK_S": "1",  # a product setting: time-driven changes within a second
        "TOLLWAY_WEBHOOK_KEY": WEBHOOK_KEY,
        "TOLLWAY_WEBHOOK_ALLOW_HTTP": "1",  # the tests' receivers are on this machine
    }
    service = ServiceProcess("services.billing", port, env, tmp_path_factory.mktemp("logs"))
    yield service.start(health="/readyz")
    service.stop()


@pytest.fixture(scope="session")
def dispatcher(
    kafka_bootstrap: str, tokens_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    port = free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TOLLWAY_DISPATCHER_PORT": str(port),
        "TOLLWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "TOLLWAY_ADMIN_TOKENS_FILE": str(tokens_file),
        "TOLLWAY_WEBHOOK_KEY": WEBHOOK_KEY,
        "TOLLWAY_WEBHOOK_RETRY_S": WEBHOOK_RETRY_S,
        "TOLLWAY_WEBHOOK_TIMEOUT_S": "2",
    }
    service = ServiceProcess("services.dispatcher", port, env, tmp_path_factory.mktemp("logs"))
    yield service.start()
    service.stop()


@pytest.fixture(scope="session")
def metering(
    kafka_bootstrap: str,
    tokens_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[ServiceProcess]:
    port = free_port()
    if containers.WANTED:  # the official server image, as a deployment runs it
        clickhouse = request.getfixturevalue("clickhouse_server").env("stack")
    else:
        clickhouse = {"CLICKHOUSE_URL": f"chdb://{tmp_path_factory.mktemp('metering-ch')}"}
    env = clickhouse | {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TOLLWAY_METERING_PORT": str(port),
        "TOLLWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "TOLLWAY_ADMIN_TOKENS_FILE": str(tokens_file),
    }
    service = ServiceProcess("services.metering", port, env, tmp_path_factory.mktemp("logs"))
    yield service.start()
    service.stop()
