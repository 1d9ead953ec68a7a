"""A cluster whose parts the fault tests kill and restart: its own Kafka broker, the simulator,
billing, metering and the gateway as separate processes, with the shipped catalog."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
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
    broker: KafkaBroker
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def restart(self, name: str) -> None:
        """Start ``name`` again after a kill, on the same port, folder and spool."""
        self.services[name].start(health=_HEALTH[name])

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


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("faults")
    broker = KafkaBroker(work / "kafka", free_port(), free_port())
    broker.start()
    asyncio.run(ensure_topics(broker.bootstrap_servers))
    ports = {name: free_port() for name in _HEALTH}
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "TOLLWAY_DATA_DIR": str(work / "data"),
        "TOLLWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "TOLLWAY_CATALOG": str(CATALOG),
        "TOLLWAY_UPSTREAM_BASE_URL": f"http://127.0.0.1:{ports['simulator']}/v1",
        "TOLLWAY_METERING_URL": f"http://127.0.0.1:{ports['metering']}",
        "CLICKHOUSE_URL": f"chdb://{work / 'clickhouse'}",
        "TOLLWAY_GATEWAY_SPOOL_DIR": str(work / "spool"),
    }
    common |= {f"TOLLWAY_{name.upper()}_PORT": str(port) for name, port in ports.items()}
    cluster = Cluster(broker)
    try:
        for name in _HEALTH:  # the gateway last, as make run starts them
            service = ServiceProcess(f"services.{name}", ports[name], common, work / "logs")
            cluster.services[name] = service.start(health=_HEALTH[name])
        yield cluster
    finally:
        for service in reversed(cluster.services.values()):
            service.stop()
        broker.stop()
