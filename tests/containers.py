"""Kafka and ClickHouse servers from their official images, for machines with Docker.

``TOLLWAY_TEST_CONTAINERS=1`` runs the suite's broker as ``apache/kafka`` (the release of the
Maven jars, with the Maven broker's settings) and its ClickHouse server as
``clickhouse/clickhouse-server`` (the deployment files' release) through testcontainers.
Unset, the suite runs the Maven broker and, where a test wants a server, the HTTP interface
in front of the embedded engine (``tests/clickhouse_http.py``). The containers need a local
Docker daemon: the broker advertises the daemon's host, which a remote daemon's network may
not route back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import clickhouse_connect
import httpx

from infra.kafka.broker import kafka_release, server_settings, wait_for_kafka
from schemas.settings import env_flag
from tests.deploy_files import compose
from tests.kafka_image import environment_of
from tests.support import budget, free_port

__all__ = ["WANTED", "ClickHouseServer", "clickhouse_server", "kafka_broker"]

# A password as an operator generates one: characters a URL must percent-encode.
PASSWORD = "tests/+=#?@secret"

WANTED = env_flag("TOLLWAY_TEST_CONTAINERS", default=False)
_CONTROLLER = 9093


@dataclass(frozen=True)
class ClickHouseServer:
    address: str  # http://host:port
    user: str
    password: str

    def url(self, database: str) -> str:
        """``CLICKHOUSE_URL`` with the credentials in it, percent-encoded."""
        user, password = quote(self.user, safe=""), quote(self.password, safe="")
        host = self.address.removeprefix("http://")
        return f"http://{user}:{password}@{host}/?database={database}"

    def client(self) -> Any:
        """A clickhouse-connect client in the ``default`` database."""
        address = urlparse(self.address)
        return clickhouse_connect.get_client(
            host=address.hostname, port=address.port, username=self.user, password=self.password
        )

    def env(self, database: str) -> dict[str, str]:
        """``CLICKHOUSE_URL`` without them, and ``CLICKHOUSE_USER``/``CLICKHOUSE_PASSWORD``."""
        return {
            "CLICKHOUSE_URL": f"{self.address}/?database={database}",
            "CLICKHOUSE_USER": self.user,
            "CLICKHOUSE_PASSWORD": self.password,
        }


@contextmanager
def kafka_broker() -> Iterator[str]:
    """One broker and controller in a container; yields its bootstrap address."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.docker_client import DockerClient

    host, port = DockerClient().host(), free_port()
    # The same port inside and out: the address the broker advertises is the one we dial.
    settings = server_settings(Path("/var/lib/kafka/data"), port, _CONTROLLER)
    settings |= {
        "listeners": f"PLAINTEXT://0.0.0.0:{port},CONTROLLER://0.0.0.0:{_CONTROLLER}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.quorum.voters": f"1@localhost:{_CONTROLLER}",
    }
    container = DockerContainer(f"apache/kafka:{kafka_release()}").with_bind_ports(port, port)
    container.with_env("CLUSTER_ID", "dG9sbHdheS10ZXN0cy0wMQ")
    for name, value in environment_of(settings).items():
        container.with_env(name, value)
    with container:
        bootstrap = f"{host}:{port}"
        wait_for_kafka(bootstrap, budget(120))
        yield bootstrap


def _answers_ping(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).text.strip() == "Ok."
    except httpx.HTTPError:
        return False


@contextmanager
def clickhouse_server() -> Iterator[ClickHouseServer]:
    """A ClickHouse server in a container."""
    from testcontainers.core.container import DockerContainer

    user, password = "tollway", PASSWORD
    container = (
        DockerContainer(compose()["services"]["clickhouse"]["image"])
        .with_exposed_ports(8123)
        .with_env("CLICKHOUSE_USER", user)
        .with_env("CLICKHOUSE_PASSWORD", password)
        .with_env("CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT", "1")
    )
    with container:
        address = f"{container.get_container_host_ip()}:{container.get_exposed_port(8123)}"
        deadline = time.monotonic() + budget(120)
        while not _answers_ping(f"http://{address}/ping"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"ClickHouse at {address} did not answer /ping")
            time.sleep(0.5)
        yield ClickHouseServer(f"http://{address}", user, password)
