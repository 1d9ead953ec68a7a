"""The Kafka settings the deployment files give the official image boot a real quorum.

Each node's environment is rendered into ``server.properties`` the way the apache/kafka image
renders it (``KAFKA_LOG_DIRS`` -> ``log.dirs``), moved to 127.0.0.1 and free ports, formatted
with the file's cluster id and run from the jars of the release the image tag names; then the
topics are made as the deployment's topics job makes them and a transaction commits, as
billing's do. An image of another release than the one every other test runs, data written
outside the mounted volume (a new container would start with no topics and no balances), a
volume the image's user cannot write, a voter on a host no node has, a setting Kafka refuses
or replication the quorum cannot give fails here rather than on an operator's machines.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from infra.kafka.broker import KafkaBroker, kafka_release
from infra.kafka.topics import ensure_topics
from schemas.topics import ALL_TOPICS
from tests.deploy_files import compose, manifests
from tests.kafka_image import environment_of, properties_of
from tests.support import budget, free_port

pytestmark = pytest.mark.integration

CLIENT, CONTROLLER = 9092, 9093
APPUSER = 1000  # the apache/kafka image runs as appuser, uid 1000


def test_environment_names_become_the_properties_the_image_writes() -> None:
    env = {
        "KAFKA_LOG_DIRS": "/d",
        "KAFKA_LISTENER_NAME_INTERNAL_SSL__KEYSTORE": "k",  # __ keeps an underscore
        "KAFKA_OPTS": "-Dx",  # the JVM's, not the broker's
        "CLUSTER_ID": "c",
    }
    expected = {"log.dirs": "/d", "listener.name.internal.ssl_keystore": "k"}
    assert properties_of(env) == expected
    assert properties_of(environment_of(expected)) == expected


@dataclass(frozen=True)
class Node:
    address: str  # the host the other nodes and clients reach it at
    env: dict[str, str]  # its container's environment, the entrypoint's exports applied
    volume: str  # where its data volume is mounted


def _compose() -> tuple[list[Node], int, str]:
    services = compose()["services"]
    kafka = services["kafka"]
    (volume,) = kafka["volumes"]
    env = {k: str(v) for k, v in kafka["environment"].items()}
    replication = int(services["topics"]["environment"].get("TOLLWAY_KAFKA_REPLICATION", 1))
    return [Node("kafka", env, volume.split(":", 1)[1])], replication, kafka["image"]


def _kubernetes() -> tuple[list[Node], int, str]:
    docs = manifests()
    (config,) = [d for d in docs if d["kind"] == "ConfigMap"]
    (kafka,) = [d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "kafka"]
    pod = kafka["spec"]["template"]["spec"]
    # A claimed volume's root belongs to root: only fsGroup lets appuser write there.
    assert pod.get("securityContext", {}).get("fsGroup") == APPUSER
    (container,) = pod["containers"]
    (mount,) = container["volumeMounts"]
    env = {e["name"]: str(e["value"]) for e in container["env"]}
    exports = re.findall(r"export (\w+)=([^;]+);", " ".join(container["args"]))
    nodes = []
    for n in range(kafka["spec"]["replicas"]):
        hostname = f"kafka-{n}"  # a StatefulSet's pods are <name>-<ordinal>
        own = dict(env)
        for name, value in exports:
            own[name] = value.replace("${HOSTNAME##*-}", str(n)).replace("$HOSTNAME", hostname)
        assert not any("$" in v for v in own.values()), own
        nodes.append(Node(f"{hostname}.{kafka['spec']['serviceName']}", own, mount["mountPath"]))
    replication = int(config["data"].get("TOLLWAY_KAFKA_REPLICATION", 1))
    return nodes, replication, container["image"]


def _local(
    props: dict[str, str], nodes: list[Node], ports: list[tuple[int, int]], me: int
) -> dict[str, str]:
    """``props`` with every ``host:9092``/``host:9093`` (and the bare ``:9092`` of a listener)
    moved to 127.0.0.1 and that node's free ports."""
    index = {node.address: i for i, node in enumerate(nodes)}

    def move(match: re.Match[str]) -> str:
        host = match["host"]
        assert host in index or host == "", f"{host} is no node's address ({sorted(index)})"
        client, controller = ports[index[host] if host else me]
        return f"127.0.0.1:{client if int(match['port']) == CLIENT else controller}"

    address = re.compile(rf"(?P<host>[A-Za-z0-9.-]*):(?P<port>{CLIENT}|{CONTROLLER})\b")
    return {key: address.sub(move, value) for key, value in props.items()}


@contextmanager
def _booted(nodes: list[Node], work: Path) -> Iterator[str]:
    ports = [(free_port(), free_port()) for _ in nodes]
    brokers = []
    for i, node in enumerate(nodes):
        assert "CLUSTER_ID" in node.env, "the image formats its storage with CLUSTER_ID"
        props = properties_of(node.env)
        for folder in props.get("log.dirs", "/tmp/kraft-combined-logs").split(","):
            assert Path(folder).is_relative_to(node.volume), (folder, "outside", node.volume)
        props = _local(props, nodes, ports, i)
        props["log.dirs"] = str(work / f"node-{i}" / "logs")
        brokers.append(
            KafkaBroker(
                work / f"node-{i}",
                *ports[i],
                heap="512m",
                cluster_id=node.env["CLUSTER_ID"],
                properties=props,
            )
        )
    try:
        for broker in brokers:
            broker.launch()  # a quorum answers only once a majority runs
        for broker in brokers:
            broker.wait(budget(120))
        yield ",".join(b.bootstrap_servers for b in brokers)
    finally:
        for broker in brokers:
            broker.stop()


async def _topics_and_a_transaction(bootstrap: str, replication: int) -> None:
    await ensure_topics(bootstrap, replication_factor=replication)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id="deploy-check", acks="all"
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(ALL_TOPICS[0].name, b"deploy-check")
    finally:
        await producer.stop()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("files", [_compose, _kubernetes], ids=["compose", "kubernetes"])
def test_the_deployment_files_kafka_settings_boot_and_take_a_transaction(
    files: Any, tmp_path: Path
) -> None:
    nodes, replication, image = files()
    assert image == f"apache/kafka:{kafka_release()}", "the image runs another release"
    assert replication <= len(nodes)
    with _booted(nodes, tmp_path) as bootstrap:
        asyncio.run(asyncio.wait_for(_topics_and_a_transaction(bootstrap, replication), budget(90)))
