"""Tollway beyond one machine, on this one: a three-node KRaft cluster from the same Maven
jars (topics with three copies, ``min.insync.replicas`` 2), and two instances of the
gateway (a spool each), of billing and of metering (each pair splitting the partitions),
over the fault suite's services. The two metering consumers share the suite's ClickHouse
server (``clickhouse_server``), each cluster run a database of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from infra.kafka.broker import KafkaCluster
from infra.kafka.topics import ensure_topics
from tests.containers import ClickHouseServer
from tests.faults.conftest import Cluster, start_stack
from tests.support import free_port, unique


@pytest.fixture(scope="module")
def big(
    tmp_path_factory: pytest.TempPathFactory, clickhouse_server: ClickHouseServer
) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("cluster")
    brokers = KafkaCluster(work / "kafka", [(free_port(), free_port()) for _ in range(3)])
    brokers.start()
    cluster = None
    try:
        asyncio.run(ensure_topics(brokers.bootstrap_servers, replication_factor=3))
        database = unique("cluster").replace("-", "_")
        # Credentials apart from the URL, as the deployment files give them.
        cluster = start_stack(work, brokers, clickhouse_server.env(database))
        port = free_port()
        cluster.add(
            "billing-b",
            "billing",
            port,
            "/readyz",
            TOLLWAY_BILLING_PORT=str(port),
            TOLLWAY_BILLING_INSTANCE="b",
        )
        port = free_port()
        cluster.add(
            "gateway-b",
            "gateway",
            port,
            "/readyz",
            TOLLWAY_GATEWAY_PORT=str(port),
            TOLLWAY_GATEWAY_SPOOL_DIR=str(work / "spool-b"),
        )
        port = free_port()
        cluster.add("metering-b", "metering", port, "/healthz", TOLLWAY_METERING_PORT=str(port))
        yield cluster
    finally:
        if cluster is not None:
            cluster.stop_all()
        brokers.stop()
