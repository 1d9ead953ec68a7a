"""A cluster whose parts the fault tests kill and restart: its own Kafka broker, the simulator,
billing, metering and the gateway as separate processes, with the shipped catalog."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infra.kafka.broker import KafkaBroker
from infra.kafka.topics import ensure_topics
from tests.processes import ServiceProcess
from tests.stack import tollway_cli
from tests.support import free_port

ADMIN_TOKEN = "faults-admin-token"
CATALOG = Path(__file__).parents[2] / "infra" / "catalog.toml"


@dataclass
class Cluster:
    broker: Any  # a KafkaBroker, or a KafkaCluster: what has ``bootstrap_servers``
    work: Path
    env: dict[str, str] = field(default_factory=dict)
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    health: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def restart(self, name: str) -> None:
        """Start ``name`` again after a kill, on the same port, folder and spool."""
        self.services[name].start(health=self.health[name])

    def add(self, name: str, module: str, port: int, health: str, **env: str) -> ServiceProcess:
        """Start another instance (``name``) of ``services.<module>`` on ``port``."""
        service = ServiceProcess(f"services.{module}", port, self.env | env, self.work / "logs")
        service.log = self.work / "logs" / f"{name}-{port}.log"
        self.services[name], self.health[name] = service, health
        return service.start(health=health)

    def stop_all(self) -> None:
        for service in reversed(self.services.values()):
            service.stop()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return tollway_cli(self["billing"].url, self["metering"].url, ADMIN_TOKEN, *args)

    def cli_json(self, *args: str) -> dict[str, Any]:
        done = self.cli(*args, "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        return dict(json.loads(done.stdout))


_HEALTH = {
    "simulator": "/healthz",
    "metering": "/healthz",
    "billing": "/readyz",
    "gateway": "/readyz",
}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed fault test carries each service's warnings and errors: on CI the logs are
    gone with the machine."""
    report: pytest.TestReport = yield
    cluster = getattr(item, "funcargs", {}).get("cluster")
    if report.failed and isinstance(cluster, Cluster):
        for name, service in cluster.services.items():
            report.sections.append((f"{name}: warnings and errors", service.notable()))
    return report


def start_stack(work: Path, broker: Any, clickhouse: dict[str, str] | None = None) -> Cluster:
    """The simulator, metering, billing and the gateway on ``broker``, with the shipped
    catalog, as ``make run`` starts them (the gateway last); metering on the embedded engine
    unless ``clickhouse`` (``CLICKHOUSE_*`` settings) names a server."""
    ports = {name: free_port() for name in _HEALTH}
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "TOLLWAY_DATA_DIR": str(work / "data"),
        "TOLLWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "TOLLWAY_CATALOG": str(CATALOG),
        "TOLLWAY_UPSTREAM_BASE_URL": f"http://127.0.0.1:{ports['simulator']}/v1",
        "TOLLWAY_METERING_URL": f"http://127.0.0.1:{ports['metering']}",
        "TOLLWAY_GATEWAY_SPOOL_DIR": str(work / "spool"),
    } | (clickhouse or {"CLICKHOUSE_URL": f"chdb://{work / 'clickhouse'}"})
    common |= {f"TOLLWAY_{name.upper()}_PORT": str(port) for name, port in ports.items()}
    cluster = Cluster(broker, work, common)
    try:
        for name, health in _HEALTH.items():
            cluster.add(name, name, ports[name], health)
    except BaseException:
        cluster.stop_all()
        raise
    return cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("faults")
    broker = KafkaBroker(work / "kafka", free_port(), free_port())
    broker.start()
    cluster = None
    try:
        asyncio.run(ensure_topics(broker.bootstrap_servers))
        cluster = start_stack(work, broker)
        yield cluster
    finally:
        if cluster is not None:
            cluster.stop_all()
        broker.stop()
