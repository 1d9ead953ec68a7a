"""Fixtures shared by every test folder.

One Kafka broker serves the whole run (started lazily by the first test that
asks for it), or ``KAFKA_BOOTSTRAP_SERVERS`` names an existing cluster. One
chdb folder serves the whole run too (chdb allows one folder per process);
tests isolate themselves with a database of their own.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.kafka.broker import KafkaBroker
from infra.kafka.topics import ensure_topics
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


@pytest.fixture
def clickhouse_database() -> str:
    return unique("test").replace("-", "_")
