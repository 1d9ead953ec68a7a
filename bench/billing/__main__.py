"""``python -m bench.billing``: one billing consumer's throughput and its blocking latency.

1. Throughput: accounts and their top-ups, then N request events (started and
   completed pairs) are written to Kafka first; one billing consumer (the real
   adapter, transactions included) then applies them. Reported: events/s from
   its first batch to its last.
2. Blocking latency: per trial, an account holding a little money and a
   ``request.completed`` that exhausts it; measured from the produce to a
   ``read_committed`` reader of ``tollway.account-status`` seeing
   ``insufficient_balance`` (what a gateway reads). Reported: p50/p99.

Prints a table and writes ``bench/results/billing.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.report import write_results
from infra.kafka.broker import KafkaBroker
from infra.kafka.topics import ensure_topics
from schemas.events import (
    AccountStatusChanged,
    CreateAccount,
    Event,
    PriceVersion,
    RequestCompleted,
    RequestStarted,
    TopUp,
    decode_event,
    encode_event,
)
from schemas.prices import PriceBook
from schemas.topics import ACCOUNT_STATUS, BILLING_COMMANDS, REQUESTS
from services.billing.entrypoints.consumer import BillingConsumer
from services.billing.service_layer.engine import Engine
from tests.support import free_port

TARGETS = {"events_per_second": 20_000, "block_latency_p99_ms": 250}
PRICE = PriceVersion(
    version="bench",
    effective_from=datetime(1970, 1, 1, tzinfo=UTC),
    input_per_mtok_nano=1_000_000_000,
    output_per_mtok_nano=2_000_000_000,
    cache_read_per_mtok_nano=500_000_000,
)


def _pair(n: int, account: str, at: datetime, seq: int, completion: int = 50) -> list[Event]:
    """A request's two events, numbered ``seq + 1`` and ``seq + 2`` as one gateway would."""
    common = {
        "request_id": f"r{n}",
        "account_id": account,
        "key_id": "k",
        "model": "m",
        "deployment": "d",
        "surface": "openai.chat",
        "stream": False,
    }
    return [
        RequestStarted(
            **common,
            max_tokens=100,
            prompt_tokens_estimate=100,
            occurred_at=at,
            producer="bench-gateway",
            producer_seq=seq + 1,
        ),
        RequestCompleted(
            **common,
            producer="bench-gateway",
            producer_seq=seq + 2,
            started_at=at,
            status="succeeded",
            http_status=200,
            prompt_tokens=100,
            completion_tokens=completion,
            cache_read_tokens=0,
            cache_write_tokens=0,
            usage_source="upstream",
            latency_ms=1,
            occurred_at=at,
        ),
    ]


async def _produce(producer: AIOKafkaProducer, topic: str, events: list[tuple[str, Event]]) -> None:
    futures = []
    for key, event in events:
        value, headers = encode_event(event)
        futures.append(await producer.send(topic, value, key=key.encode(), headers=headers))
    await asyncio.gather(*futures)


async def _applied(consumer: BillingConsumer, target: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while consumer.applied < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"applied {consumer.applied} of {target} in {timeout}s")
        await asyncio.sleep(0.01)
    return time.monotonic()


async def throughput(bootstrap: str, events: int, accounts: int) -> dict[str, Any]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20, compression_type="lz4"
    )
    await producer.start()
    now = datetime.now(UTC)
    names = [f"bench-{i}" for i in range(accounts)]
    await _produce(
        producer,
        BILLING_COMMANDS.name,
        [
            (a, e)
            for a in names
            for e in (
                CreateAccount(account_id=a, name=a, idempotency_key=f"c-{a}", occurred_at=now),
                TopUp(account_id=a, amount_nano=10**15, idempotency_key=f"t-{a}", occurred_at=now),
            )
        ],
    )
    pairs = events // 2
    await _produce(
        producer,
        REQUESTS.name,
        [
            (names[n % accounts], e)
            for n in range(pairs)
            for e in _pair(
                n, names[n % accounts], now + timedelta(microseconds=n), 2 * (n // accounts)
            )
        ],
    )
    await producer.stop()
    consumer = BillingConsumer(bootstrap, Engine(PriceBook([("m", PRICE)])), instance="bench")
    start = time.monotonic()
    await consumer.start()
    first = await _applied(consumer, 1, 60)
    last = await _applied(consumer, pairs * 2 + accounts * 2, 300)
    await consumer.stop()
    total = pairs * 2 + accounts * 2
    return {
        "events": total,
        "accounts": accounts,
        "seconds_first_to_last": round(last - first, 3),
        "events_per_second": round(total / (last - first), 1),
        "seconds_including_group_join": round(last - start, 3),
    }


async def block_latency(bootstrap: str, trials: int) -> dict[str, Any]:
    consumer = BillingConsumer(bootstrap, Engine(PriceBook([("m", PRICE)])), instance="bench-lat")
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
    )
    await reader.start()
    tps = [TopicPartition(ACCOUNT_STATUS.name, p) for p in range(ACCOUNT_STATUS.partitions)]
    reader.assign(tps)
    await reader.seek_to_end(*tps)
    for tp in tps:
        await reader.position(tp)
    latencies = []
    try:
        for trial in range(trials):
            account = f"lat-{trial}-{time.monotonic_ns()}"
            now = datetime.now(UTC)
            await _produce(
                producer,
                BILLING_COMMANDS.name,
                [
                    (
                        account,
                        CreateAccount(
                            account_id=account, name=account, idempotency_key="c", occurred_at=now
                        ),
                    ),
                    (
                        account,
                        TopUp(
                            account_id=account,
                            amount_nano=10**10,
                            idempotency_key="t",
                            occurred_at=now,
                        ),
                    ),
                ],
            )
            await _wait_status(reader, account, "active")
            # 10 USD at 2 USD per 1M output tokens: 5M output tokens exhausts it
            started, completed = _pair(trial, account, now, 0, completion=6_000_000)
            await _produce(producer, REQUESTS.name, [(account, started)])
            t0 = time.perf_counter()
            await _produce(producer, REQUESTS.name, [(account, completed)])
            await _wait_status(reader, account, "insufficient_balance")
            latencies.append((time.perf_counter() - t0) * 1000)
    finally:
        await reader.stop()
        await producer.stop()
        await consumer.stop()
    latencies.sort()
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)  # noqa: E731
    return {
        "trials": trials,
        "p50_ms": pick(0.5),
        "p90_ms": pick(0.9),
        "p99_ms": pick(0.99),
        "max_ms": round(latencies[-1], 2),
    }


async def _wait_status(reader: AIOKafkaConsumer, account: str, status: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for records in (await reader.getmany(timeout_ms=50)).values():
            for record in records:
                event = decode_event(record.value)
                if (
                    isinstance(event, AccountStatusChanged)
                    and event.account_id == account
                    and event.status == status
                ):
                    return
    raise RuntimeError(f"{account} never reached {status}")


async def bench(events: int, accounts: int, trials: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="tollway-bench-billing-"))
    broker = KafkaBroker(work / "kafka", free_port(), free_port())
    await asyncio.to_thread(broker.start)
    try:
        await ensure_topics(broker.bootstrap_servers)
        return {
            "throughput": await throughput(broker.bootstrap_servers, events, accounts),
            "block_latency": await block_latency(broker.bootstrap_servers, trials),
        }
    finally:
        await asyncio.to_thread(broker.stop)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Tollway billing benchmark")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--trials", type=int, default=100)
    args = parser.parse_args()
    results = uvloop.run(bench(args.events, args.accounts, args.trials))
    written = write_results("billing", results, targets=TARGETS)
    t, b = results["throughput"], results["block_latency"]
    print(
        f"throughput: {t['events_per_second']} events/s ({t['events']} events, "
        f"{t['accounts']} accounts; target >= {TARGETS['events_per_second']})"
    )
    print(
        f"blocking latency: p50 {b['p50_ms']} ms, p99 {b['p99_ms']} ms over {b['trials']} "
        f"trials (target p99 <= {TARGETS['block_latency_p99_ms']} ms)"
    )
    print(f"wrote {written}")


if __name__ == "__main__":
    main()
