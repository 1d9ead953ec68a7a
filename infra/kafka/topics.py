"""Create the topics of ``schemas.topics`` explicitly and idempotently."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas.topics import ALL_TOPICS, Topic

from .errors import InfraError

__all__ = ["ensure_topics"]

_TOPIC_ALREADY_EXISTS = 36


async def ensure_topics(
    bootstrap: str, topics: Iterable[Topic] = ALL_TOPICS, replication_factor: int = 1
) -> list[str]:
    """Create every missing topic and wait until each has a leader; return the names created.

    aiokafka reports per-topic failures in the response rather than raising, so
    each error code is read here: "already exists" is fine, anything else stops.
    """
    wanted = list(topics)
    # With copies, a write needs two of them (acks=all): one node may die without a loss.
    durable = {"min.insync.replicas": str(min(2, replication_factor))}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        response = await admin.create_topics(
            [
                NewTopic(
                    t.name,
                    t.partitions,
                    replication_factor,
                    topic_configs=t.kafka_configs() | durable,
                )
                for t in wanted
            ]
        )
        created: list[str] = []
        for name, code, message in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != _TOPIC_ALREADY_EXISTS:
                raise InfraError(f"creating Kafka topic {name} failed: {message} (error {code})")
        await _wait_for_leaders(admin, [t.name for t in wanted])
        return created
    finally:
        await admin.close()


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, names: list[str], timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        described = await admin.describe_topics(names)
        pending = [
            t["topic"]
            for t in described
            if t["error_code"] != 0 or any(p["leader"] < 0 for p in t["partitions"])
        ]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise InfraError(f"Kafka topics without a leader after {timeout:.0f}s: {pending}")
        await asyncio.sleep(0.1)


def main() -> int:
    """``python -m infra.kafka.topics``: create the topics on KAFKA_BOOTSTRAP_SERVERS (a
    deployment's first step), ``TOLLWAY_KAFKA_REPLICATION`` copies each (default 1)."""
    import sys

    from schemas.settings import SettingError, env_int, kafka_bootstrap

    try:
        bootstrap = kafka_bootstrap()
        # More copies than brokers is refused by Kafka itself, with its own message.
        replication = env_int("TOLLWAY_KAFKA_REPLICATION", 1, low=1, high=32767)
    except SettingError as exc:
        print(f"tollway-topics: {exc}", file=sys.stderr)
        return 1
    try:
        created = asyncio.run(ensure_topics(bootstrap, replication_factor=replication))
    except InfraError as exc:
        print(f"tollway-topics: {exc}", file=sys.stderr)
        return 1
    print(f"{len(created)} topics created on {bootstrap}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
