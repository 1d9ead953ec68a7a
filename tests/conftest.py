"""Fixtures shared by every test folder.

One Kafka broker serves the whole run (started lazily by the first test that
asks for it), or ``KAFKA_BOOTSTRAP_SERVERS`` names an existing cluster. One
chdb folder serves the whole run too (chdb allows one folder per process);
tests isolate themselves with a database of their own. Tests that want a
ClickHouse server share one: the HTTP interface in front of the embedded engine.
With ``TOLLWAY_TEST_CONTAINERS=1`` (and Docker) the broker and the server are
the official images instead (``tests/containers.py``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.kafka.broker import KafkaBroker
from infra.kafka.topics import ensure_topics
from tests import containers
from tests.processes import ServiceProcess
from tests.support import TIME_SCALE, free_port, unique


def pytest_configure(config: pytest.Config) -> None:
    """Every test's time limit is a budget: it scales with TOLLWAY_TEST_TIME_SCALE."""
    limit = config.getoption("timeout", None) or config.getini("timeout")
    if limit:
        config.option.timeout = float(limit) * TIME_SCALE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test's own time limit (``@pytest.mark.timeout(s)``) is a budget too."""
    for item in items:
        marker = item.get_closest_marker("timeout")
        if marker is not None and marker.args:
            item.add_marker(pytest.mark.timeout(float(marker.args[0]) * TIME_SCALE), append=False)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if existing:
        asyncio.run(ensure_topics(existing))
        yield existing
        return
    if containers.WANTED:
        with containers.kafka_broker() as bootstrap:
            asyncio.run(ensure_topics(bootstrap))
            yield bootstrap
        return
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"), free_port(), free_port())
    broker.start()
    try:
        asyncio.run(ensure_topics(broker.bootstrap_servers))
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def chdb_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clickhouse")


@pytest.fixture(scope="session")
def clickhouse_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[containers.ClickHouseServer]:
    """A ClickHouse server with one user; a test names its own database."""
    if containers.WANTED:
        with containers.clickhouse_server() as server:
            yield server
        return
    folder = tmp_path_factory.mktemp("clickhouse-http")
    port = free_port()
    server = containers.ClickHouseServer(f"http://127.0.0.1:{port}", "tollway", containers.PASSWORD)
    env = {
        "CH_HTTP_PORT": str(port),
        "CH_HTTP_FOLDER": str(folder / "data"),
        "CH_HTTP_USER": server.user,
        "CH_HTTP_PASSWORD": server.password,
    }
    endpoint = ServiceProcess("tests.clickhouse_http", port, env, folder).start("/ping")
    try:
        yield server
    finally:
        endpoint.stop()


@pytest.fixture
def clickhouse_database() -> str:
    return unique("test").replace("-", "_")
