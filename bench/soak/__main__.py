"""Soak: the whole stack (as ``make run`` starts it) under a steady mixed load, then checks.

``make soak`` (default 5 minutes at 40 requests/s): many accounts and keys,
half the requests streaming. Afterwards: every request a client saw succeed is
charged exactly once at its priced cost (no lost or doubled charge), each
balance is its top-up minus its charges, reconciliation finds nothing, both
consumer groups are back to zero lag. The RSS of every service is sampled
every 10 s; the curve goes to ``bench/results/soak.json``. Exit code 1 when a
check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import uvloop
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.procinfo import rss_mb
from bench.report import write_results
from schemas.events import LedgerEntryRecorded, decode_event
from schemas.topics import LEDGER, REQUESTS
from tests.load import chat_once
from tests.stack import RunningStack
from tests.support import partitions_of, read_all

MODEL = "sim-small"
TOP_UP_USD = 1000
GROUPS = ("tollway-billing", "tollway-metering")


def _service_pids(stack_pid: int) -> dict[str, int]:
    """The runner's children by what they run: the four services and the broker."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != stack_pid:
                continue
            cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        for name in ("gateway", "billing", "metering", "simulator"):
            if f"services.{name}" in cmd:
                found[name] = int(stat.parent.name)
        if "kafka.Kafka" in cmd:
            found["kafka"] = int(stat.parent.name)
    return found


async def _lag(bootstrap: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        partitions = [
            TopicPartition(REQUESTS.name, p) for p in await partitions_of(bootstrap, REQUESTS.name)
        ]
        ends = await consumer.end_offsets(partitions)
        lag = {}
        for group in GROUPS:
            committed = await admin.list_consumer_group_offsets(group)
            lag[group] = sum(
                max(ends[tp] - (committed[tp].offset if tp in committed else 0), 0)
                for tp in partitions
            )
        return lag
    finally:
        await consumer.stop()
        await admin.close()


async def soak(seconds: float, rate: float, accounts: int, keys_per_account: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tollway-soak-") as tmp:
        token = secrets.token_hex(16)
        stack = RunningStack(Path(tmp) / "data", TOLLWAY_ADMIN_TOKEN=token).start()
        try:
            return await _drive(stack, seconds, rate, accounts, keys_per_account)
        finally:
            stack.stop()


async def _drive(
    stack: RunningStack, seconds: float, rate: float, n_accounts: int, keys_per_account: int
) -> dict[str, Any]:
    assert stack.proc is not None
    pids = _service_pids(stack.proc.pid)
    bootstrap = f"127.0.0.1:{stack.env['TOLLWAY_KAFKA_PORT']}"
    keys: list[tuple[str, str]] = []  # (account, secret)
    for i in range(n_accounts):
        account = stack.cli_json("accounts", "create", f"Soak {i}")["account_id"]
        stack.cli_json("topup", account, str(TOP_UP_USD))
        keys += [
            (account, stack.cli_json("keys", "create", account)["secret"])
            for _ in range(keys_per_account)
        ]
    gateway = stack.url("gateway")
    succeeded: dict[str, tuple[str, int]] = {}
    failed = 0
    rss: dict[str, list[tuple[float, float]]] = defaultdict(list)
    async with httpx.AsyncClient(
        base_url=gateway, timeout=30, limits=httpx.Limits(max_connections=200)
    ) as http:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # every key known at the gateway
            codes = [
                (
                    await http.get("/v1/balance", headers={"authorization": f"Bearer {s}"})
                ).status_code
                for _, s in keys
            ]
            if all(c == 200 for c in codes):
                break
            await asyncio.sleep(0.2)
        t0 = time.monotonic()
        next_sample = t0
        tasks: set[asyncio.Task[None]] = set()
        n = 0

        async def fire(account: str, secret: str, stream: bool, n: int) -> None:
            nonlocal failed
            outcome = await chat_once(
                http, MODEL, stream, f"soak {n}", {"authorization": f"Bearer {secret}"}, 8
            )
            if outcome is None:
                failed += 1
            else:
                succeeded[outcome[0]] = (account, outcome[1])

        while (now := time.monotonic()) < t0 + seconds:
            if now >= next_sample:
                for name, pid in pids.items():
                    rss[name].append((round(now - t0, 1), rss_mb(pid)))
                next_sample += 10
            account, secret = random.choice(keys)
            task = asyncio.create_task(fire(account, secret, n % 2 == 0, n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
            await asyncio.sleep(max(0.0, t0 + n / rate - time.monotonic()))
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - t0
        for name, pid in pids.items():
            rss[name].append((round(time.monotonic() - t0, 1), rss_mb(pid)))

    # Checks: charged exactly once, balances, reconciliation, lag.
    expected: dict[str, int] = Counter()
    for account, cost in succeeded.values():
        expected[account] += cost
    topped = TOP_UP_USD * 10**9 * 95 // 100
    settle_deadline = time.monotonic() + 120
    balances_ok = False
    while time.monotonic() < settle_deadline and not balances_ok:
        balances_ok = all(
            stack.cli_json("balance", a)["balance_nano"] == topped - expected[a]
            for a in {a for a, _ in keys}
        )
        if not balances_ok:
            await asyncio.sleep(1)
    charges = [
        e
        for r in await read_all(bootstrap, LEDGER.name)
        if isinstance(e := decode_event(r.value), LedgerEntryRecorded) and e.kind == "charge"
    ]
    counts = Counter(e.request_id for e in charges)
    doubled = sorted(rid for rid, c in counts.items() if c > 1)
    lost = sorted(set(succeeded) - set(counts))
    wrong = sorted(
        e.request_id
        for e in charges
        if e.request_id in succeeded and -e.amount_nano != succeeded[e.request_id][1]
    )
    lag_deadline = time.monotonic() + 60
    while True:
        lag = await _lag(bootstrap)
        if not any(lag.values()) or time.monotonic() > lag_deadline:
            break
        await asyncio.sleep(1)
    reconciled = stack.cli("reconcile", ok=False)
    for _ in range(30):
        if reconciled.returncode == 0:
            break
        await asyncio.sleep(2)
        reconciled = stack.cli("reconcile", ok=False)
    growth = {
        name: round(points[-1][1] - points[min(2, len(points) - 1)][1], 1)
        for name, points in rss.items()
    }
    return {
        "seconds": round(elapsed, 1),
        "rate_target": rate,
        "requests_sent": n,
        "requests_succeeded": len(succeeded),
        "requests_failed": failed,
        "achieved_rps": round(len(succeeded) / elapsed, 1),
        "accounts": n_accounts,
        "keys": len(keys),
        "charges": len(charges),
        "lost_charges": len(lost),
        "doubled_charges": len(doubled),
        "wrongly_priced_charges": len(wrong),
        "balances_match": balances_ok,
        "reconciliation_clean": reconciled.returncode == 0,
        "consumer_lag_after": lag,
        "rss_mb": {name: points for name, points in rss.items()},
        "rss_growth_after_warmup_mb": growth,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="Tollway soak test")
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--rate", type=float, default=40, help="requests/s")
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--keys-per-account", type=int, default=2)
    args = parser.parse_args()
    result = uvloop.run(soak(args.seconds, args.rate, args.accounts, args.keys_per_account))
    written = write_results("soak", result)
    ok = (
        result["lost_charges"] == 0
        and result["doubled_charges"] == 0
        and result["wrongly_priced_charges"] == 0
        and result["balances_match"]
        and result["reconciliation_clean"]
        and not any(result["consumer_lag_after"].values())
    )
    print(
        f"soak {result['seconds']} s: {result['requests_succeeded']} requests served "
        f"({result['achieved_rps']}/s, {result['requests_failed']} failed) across "
        f"{result['accounts']} accounts and {result['keys']} keys"
    )
    print(
        f"charges {result['charges']}: lost {result['lost_charges']}, doubled "
        f"{result['doubled_charges']}, wrongly priced {result['wrongly_priced_charges']}; "
        f"balances match: {result['balances_match']}; reconciliation clean: "
        f"{result['reconciliation_clean']}; lag after: {result['consumer_lag_after']}"
    )
    for name, points in result["rss_mb"].items():
        curve = " ".join(f"{mb:g}" for _, mb in points)
        print(
            f"RSS {name:<9} MB every 10 s: {curve}  (growth after warm-up "
            f"{result['rss_growth_after_warmup_mb'][name]:+g} MB)"
        )
    print("soak:", "OK" if ok else "FAILED", "-", written)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
