"""``python -m bench.metering``: ClickHouse queries at 10M requests, Kafka ingest rate, and lag.

1. Queries: N requests (started + completed rows, and a charge each) are
   generated inside the embedded engine (INSERT ... SELECT FROM numbers), over
   one month, 10,000 accounts, 4 models. Then, through the same report code the
   API uses: a month's finance report, one account's month of usage, and
   lookups by request_id (distinct ids: ClickHouse caches query conditions).
   Last, the finance report again while the month's last day is still receiving
   rows (its days then come from the event tables, not the rollups).
2. Ingest: events written to Kafka first, then the metering sink (the real
   adapter) writes them; events/s from its first flush to its last.
3. Lag: request.completed events produced one by one while the sink runs;
   time until each row is visible to a query. p50/p99.

Prints a table and writes ``bench/results/metering.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvloop
from aiokafka import AIOKafkaProducer

from bench.report import write_results
from infra.kafka.broker import KafkaBroker
from infra.kafka.topics import ensure_topics
from schemas.clickhouse import ROLLUP_VIEWS
from schemas.events import RequestCompleted, encode_event
from schemas.topics import REQUESTS
from services.metering.adapters import reports
from services.metering.adapters.clickhouse import ClickHouse
from services.metering.entrypoints.sink import MeteringSink
from tests import factories
from tests.integration.metering.rollups import refresh_rollups
from tests.support import free_port

TARGETS = {
    "finance_month_s": 1.0,
    "account_month_ms": 50,
    "lookup_ms": 20,
    "ingest_events_per_second": 50_000,
    "lag_p99_s": 2.0,
}
MONTH = datetime(2026, 10, 1, tzinfo=UTC)
SECONDS = 31 * 86400


def _load(ch: ClickHouse, requests: int) -> float:
    """Generate ``requests`` requests in SQL; return seconds taken.

    Rows are stamped as ingested when they happened, as a month of real traffic would be
    (stamped all at once, every bucket would look freshly touched to the rollups)."""
    t0 = time.perf_counter()
    client = ch.client()
    # No refresh while loading: rows stamped with past times, inserted after a refresh,
    # would be older than its watermark and never recomputed (the sink stamps them now).
    for view in ROLLUP_VIEWS:
        client.command(f"SYSTEM STOP VIEW {view}")
    common = f"""
        concat('req_', leftPad(toString(number), 12, '0')) AS request_id,
        concat('acc_', toString(number % 10000)) AS account_id,
        concat('key_', toString(number % 20000)) AS key_id,
        ['sim-small', 'sim-large', 'model-c', 'model-d'][number % 4 + 1] AS model,
        toDateTime64('{MONTH:%Y-%m-%d %H:%M:%S}', 3, 'UTC')
            + toIntervalMillisecond(intDiv(number * {SECONDS * 1000}, {requests})) AS started_at"""
    for kind, extra in (
        ("request.started", "0 AS prompt_tokens, 0 AS completion_tokens, '' AS status"),
        (
            "request.completed",
            "100 + number % 900 AS prompt_tokens, "
            "10 + number % 90 AS completion_tokens, "
            "'succeeded' AS status",
        ),
    ):
        client.command(f"""
            INSERT INTO request_events (event_id, event_type, occurred_at, request_id, account_id,
                key_id, model, deployment, surface, stream, started_at, status, prompt_tokens,
                completion_tokens, usage_source, latency_ms, ingested_at)
            SELECT concat(request_id, ':{kind}'), '{kind}', started_at, request_id, account_id,
                   key_id, model, 'dep', 'openai.chat', number % 2 = 0, started_at, status,
                   prompt_tokens, completion_tokens, 'upstream', 250, started_at
            FROM (SELECT number, {common}, {extra} FROM numbers({requests}))""")
    client.command(f"""
        INSERT INTO ledger_entries (event_id, entry_id, occurred_at, account_id, kind,
            amount_nano, balance_after_nano, cause_event_id, request_id, model, price_version,
            ingested_at)
        SELECT concat(account_id, ':', toString(intDiv(number, 10000) + 1)),
               concat(account_id, ':', toString(intDiv(number, 10000) + 1)), started_at,
               account_id, 'charge', -(1000 + number % 5000), 10000000000 - number, request_id,
               request_id, model, 'catalog', started_at
        FROM (SELECT number, {common} FROM numbers({requests}))""")
    client.command("OPTIMIZE TABLE request_events FINAL")
    client.command("OPTIMIZE TABLE ledger_entries FINAL")
    return time.perf_counter() - t0


def _arrive(ch: ClickHouse, requests: int) -> None:
    """``requests`` more completed requests and charges on the month's last day, ingested
    now: a day the rollups have not caught up with, read from the event tables."""
    day = f"toDateTime64('{MONTH + timedelta(days=30):%Y-%m-%d %H:%M:%S}', 3, 'UTC')"
    client = ch.client()
    client.command(f"""
        INSERT INTO request_events (event_id, event_type, occurred_at, request_id, account_id,
            key_id, model, deployment, surface, stream, started_at, status, prompt_tokens,
            completion_tokens, usage_source, latency_ms)
        SELECT concat('late_', toString(number), ':c'), 'request.completed', at,
               concat('late_', toString(number)), concat('acc_', toString(number % 10000)),
               'key_late', 'sim-small', 'dep', 'openai.chat', false, at, 'succeeded', 100, 10,
               'upstream', 250
        FROM (SELECT number, {day} + toIntervalMillisecond(number * 1000) AS at
              FROM numbers({requests}))""")
    client.command(f"""
        INSERT INTO ledger_entries (event_id, entry_id, occurred_at, account_id, kind,
            amount_nano, balance_after_nano, cause_event_id, request_id, model, price_version)
        SELECT concat('late_', toString(number)), concat('acc_', toString(number % 10000), ':',
               toString(10000000 + number)), {day} + toIntervalMillisecond(number * 1000),
               concat('acc_', toString(number % 10000)), 'charge', -1000, 0,
               concat('late_', toString(number)), concat('late_', toString(number)),
               'sim-small', 'catalog'
        FROM numbers({requests})""")


def _refresh_rollups(ch: ClickHouse) -> float:
    """Bring the rollups up to date (the steady state), so their first full computation over
    the generated history does not run during the timed queries; return seconds taken."""
    client, t0 = ch.client(), time.perf_counter()
    for view in ROLLUP_VIEWS:
        client.command(f"SYSTEM START VIEW {view}")  # each begins its overdue refresh now
    refresh_rollups(client)
    return time.perf_counter() - t0


def _timed(fn: Any, runs: int) -> list[float]:
    out = []
    for i in range(runs):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "runs": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 2),
        "max_ms": round(ms[-1], 2),
    }


def queries(ch: ClickHouse, requests: int) -> dict[str, Any]:
    load_s = _load(ch, requests)
    rollups_s = _refresh_rollups(ch)
    client = ch.client()
    start, end = MONTH, MONTH + timedelta(days=31)
    rng = random.Random(7)
    finance = _timed(lambda _: reports.finance(client, start, end, ["day", "model"]), 5)
    accounts = rng.sample(range(10_000), 60)
    account = _timed(lambda i: reports.usage(client, f"acc_{accounts[i]}", start, end), 60)
    ids = rng.sample(range(requests), 100)
    lookup = _timed(lambda i: reports.lookup(client, f"req_{ids[i]:012d}"), 100)
    # The month still open: its last day receiving rows the rollups do not hold yet.
    _arrive(ch, 20_000)
    open_month = _timed(lambda _: reports.finance(client, start, end, ["day", "model"]), 5)
    return {
        "requests": requests,
        "rows": requests * 3,
        "load_seconds": round(load_s, 1),
        "rollups_first_refresh_seconds": round(rollups_s, 1),
        "finance_month": _summary(finance),
        "finance_month_with_a_day_arriving": _summary(open_month),
        "account_month": _summary(account),
        "lookup": _summary(lookup),
    }


def _event(n: int, at: datetime) -> RequestCompleted:
    return RequestCompleted(
        request_id=f"ing_{n}",
        account_id=f"acc_{n % 100}",
        key_id="k",
        model="sim-small",
        deployment="d",
        surface="openai.chat",
        stream=False,
        started_at=at,
        status="succeeded",
        http_status=200,
        prompt_tokens=100,
        completion_tokens=20,
        cache_read_tokens=0,
        cache_write_tokens=0,
        usage_source="upstream",
        latency_ms=5,
        occurred_at=at,
    )


async def ingest(bootstrap: str, ch: ClickHouse, events: int) -> dict[str, Any]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20, compression_type="lz4"
    )
    await producer.start()
    now = datetime.now(UTC)
    futures = []
    for n in range(events):
        event = (
            _event(n, now)
            if n % 2
            else factories.started(
                request_id=f"ing_{n}",
                account_id=f"acc_{n % 100}",
                model="sim-small",
                prompt_tokens_estimate=100,
                occurred_at=now,
            )
        )
        value, headers = encode_event(event)
        futures.append(
            await producer.send(
                REQUESTS.name, value, key=event.account_id.encode(), headers=headers
            )
        )
    await asyncio.gather(*futures)
    await producer.stop()
    sink = MeteringSink(bootstrap, ch, group="bench-metering")
    started = time.monotonic()
    await sink.start()
    deadline = started + 600
    while not sink.rows_written and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    # From the first flush: joining the group (and, on a fresh broker, creating the offsets
    # topic) is a one-off cost, reported apart.
    first, first_rows = time.monotonic(), sink.rows_written
    while sink.rows_written < events and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    done = time.monotonic()
    lag = await _lag(bootstrap, ch)
    await sink.stop()
    steady = (sink.rows_written - first_rows) / (done - first) if done > first else None
    return {
        "events": events,
        "seconds_to_first_flush": round(first - started, 2),
        "seconds_first_to_last_flush": round(done - first, 2),
        "events_per_second": round(steady, 1) if steady else None,
        "events_per_second_including_start": round(events / (done - started), 1),
        "lag": lag,
    }


async def _lag(bootstrap: str, ch: ClickHouse, trials: int = 40) -> dict[str, float]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    seen = []
    try:
        for trial in range(trials):
            event = _event(10**9 + trial, datetime.now(UTC))
            value, headers = encode_event(event)
            t0 = time.perf_counter()
            await producer.send_and_wait(REQUESTS.name, value, key=b"lag", headers=headers)
            while not await ch.run(
                lambda c, rid=event.request_id: c.query(
                    "SELECT count() FROM request_events WHERE request_id = {r:String}",
                    parameters={"r": rid},
                ).result_rows[0][0]
            ):
                await asyncio.sleep(0.01)
            seen.append(time.perf_counter() - t0)
    finally:
        await producer.stop()
    seen.sort()
    return {
        "trials": trials,
        "p50_s": round(statistics.median(seen), 3),
        "p99_s": round(seen[min(len(seen) - 1, int(0.99 * len(seen)))], 3),
    }


async def bench(requests: int, events: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="tollway-bench-metering-"))
    ch = ClickHouse(f"chdb://{work / 'clickhouse'}", "bench")
    ch.migrate()
    broker = KafkaBroker(work / "kafka", free_port(), free_port())
    try:
        query_results = await asyncio.to_thread(queries, ch, requests)
        await asyncio.to_thread(broker.start)
        await ensure_topics(broker.bootstrap_servers)
        ingest_results = await ingest(broker.bootstrap_servers, ch, events)
        return {"queries": query_results, "ingest": ingest_results}
    finally:
        await asyncio.to_thread(broker.stop)
        ch.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Tollway metering benchmark")
    parser.add_argument("--requests", type=int, default=10_000_000)
    parser.add_argument("--events", type=int, default=400_000)
    args = parser.parse_args()
    results = uvloop.run(bench(args.requests, args.events))
    written = write_results("metering", results, targets=TARGETS)
    q, i = results["queries"], results["ingest"]
    print(f"{q['requests']:,} requests ({q['rows']:,} rows) generated in {q['load_seconds']} s")
    print(
        f"finance, one month by day x model: p50 {q['finance_month']['p50_ms']} ms "
        f"(target <= {TARGETS['finance_month_s'] * 1000:.0f} ms)"
    )
    print(
        f"  ... with its last day arriving:  p50 "
        f"{q['finance_month_with_a_day_arriving']['p50_ms']} ms"
    )
    print(
        f"one account's month:               p50 {q['account_month']['p50_ms']} ms, "
        f"p99 {q['account_month']['p99_ms']} ms (target <= {TARGETS['account_month_ms']} ms)"
    )
    print(
        f"lookup by request_id:              p50 {q['lookup']['p50_ms']} ms, "
        f"p99 {q['lookup']['p99_ms']} ms (target <= {TARGETS['lookup_ms']} ms)"
    )
    print(
        f"ingest Kafka -> ClickHouse:        {i['events_per_second']} events/s "
        f"(target >= {TARGETS['ingest_events_per_second']})"
    )
    print(
        f"lag produced -> visible:           p50 {i['lag']['p50_s']} s, p99 {i['lag']['p99_s']} s "
        f"(target p99 <= {TARGETS['lag_p99_s']} s)"
    )
    print(f"wrote {written}")


if __name__ == "__main__":
    main()
