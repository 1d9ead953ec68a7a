"""A Kafka cluster and several instances of every service, under a steady load through two
gateways: one broker SIGKILLed and brought back, then a rolling restart of all three, then
one billing consumer killed and another added, and the same for metering. Each ends as the
fault suite's tests do (every request a client saw succeed charged exactly once at its
price, the balance the top-up minus those charges, metering's report and reconciliation
clean, the statement on billing's balance), and with no paying request refused because of
it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from infra.kafka.broker import KafkaBroker
from tests.faults.conftest import Cluster
from tests.faults.test_faults import Load, charged_exactly_once, tenant
from tests.support import budget, eventually

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(420)]


@asynccontextmanager
async def load_on_both(big: Cluster, secret: str) -> AsyncIterator[tuple[Load, Load]]:
    loads = (
        Load(big["gateway"].url, secret).start(clients=2),
        Load(big["gateway-b"].url, secret).start(clients=2),
    )
    try:
        yield loads
    finally:
        await asyncio.gather(*(load.stop() for load in loads))


async def more(loads: tuple[Load, Load], n: int) -> None:
    await asyncio.gather(*(load.more(n, timeout=90) for load in loads))


async def settled(big: Cluster, account: str, loads: tuple[Load, Load]) -> None:
    assert [load.failed for load in loads] == [0, 0], "a paying request was refused"
    succeeded = loads[0].succeeded | loads[1].succeeded
    assert len(succeeded) == len(loads[0].succeeded) + len(loads[1].succeeded)
    await charged_exactly_once(big, account, succeeded, timeout=180)


async def _in_sync(node: KafkaBroker, big: Cluster) -> None:
    """Wait until ``node`` answers and every partition has its three copies in sync again."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def lagging() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=big.broker.bootstrap_servers)
        await admin.start()
        try:
            described = await admin.describe_topics()
        finally:
            await admin.close()
        return sum(
            1
            for topic in described
            for p in topic["partitions"]
            if len(p["isr"]) < len(p["replicas"])
        )

    await asyncio.to_thread(node.wait, budget(90))
    await eventually(lagging, lambda n: n == 0, timeout=120, what="every replica in sync")


async def test_a_broker_killed_under_load_loses_and_doubles_nothing(big: Cluster) -> None:
    account, secret = await tenant(big)
    node = big.broker.nodes[1]
    async with load_on_both(big, secret) as loads:
        await more(loads, 10)
        node.kill()  # SIGKILL: no controlled shutdown, leaders move by election
        await more(loads, 20)
        await asyncio.to_thread(node.launch)
        await _in_sync(node, big)
        await more(loads, 10)
    await settled(big, account, loads)


async def test_a_rolling_restart_of_every_broker_loses_and_doubles_nothing(big: Cluster) -> None:
    account, secret = await tenant(big)
    async with load_on_both(big, secret) as loads:
        await more(loads, 10)
        for node in big.broker.nodes:
            await asyncio.to_thread(node.stop)  # SIGTERM: a controlled shutdown
            await more(loads, 10)
            await asyncio.to_thread(node.launch)
            await _in_sync(node, big)
        await more(loads, 10)
    await settled(big, account, loads)


async def test_billing_consumers_killed_and_added_under_load(big: Cluster) -> None:
    account, secret = await tenant(big)
    async with load_on_both(big, secret) as loads:
        await more(loads, 10)
        big["billing-b"].kill()  # its partitions move to the other consumer
        await more(loads, 20)
        await asyncio.to_thread(big.restart, "billing-b")  # and some move back
        await more(loads, 20)
    await settled(big, account, loads)


async def test_metering_consumers_killed_and_added_under_load(big: Cluster) -> None:
    """Two metering consumers write to one ClickHouse: one killed mid-batch, its partitions
    go to the other, then it comes back; every request is in the reports exactly once."""
    account, secret = await tenant(big)
    async with load_on_both(big, secret) as loads:
        await more(loads, 10)
        big["metering-b"].kill()
        await more(loads, 20)
        await asyncio.to_thread(big.restart, "metering-b")
        await more(loads, 20)
    await settled(big, account, loads)
