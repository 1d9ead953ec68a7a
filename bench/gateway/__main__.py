"""``python -m bench.gateway``: the gateway against the upstream it fronts, in one run.

Starts a Kafka broker, the simulator (zero delay) and the gateway pinned to
one core, then drives chat completions, non-streaming and streaming (20
chunks), at 1 and 64 connections, first at the simulator directly (the
baseline), then through the gateway (events included); then the same at 64
connections for Anthropic's Messages (on an anthropic upstream) and OpenAI's
Responses (on a responses upstream), both passed through. Prints a table and
writes ``bench/results/gateway.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import uvloop

from bench.loadgen import build_request, run
from bench.native import fixed_upstream, wrk
from bench.procinfo import children, cpu_seconds, pin, rss_mb
from bench.report import write_results
from infra.kafka.broker import KafkaBroker
from infra.kafka.topics import ensure_topics
from tests.integration.harness import CATALOG, Provisioner, gateway_env
from tests.processes import ServiceProcess
from tests.support import free_port

TARGETS = {
    "unloaded_p50_overhead_ms": 1.0,
    "unloaded_p99_overhead_ms": 3.0,
    "saturated_rps_per_core_non_streaming": 1500,
    "saturated_rps_per_core_streaming": 800,
    "rss_mb_max": 150,
}


#: No billing runs here to confirm what the gateway admits, so every request's hold stays
#: reserved against the balance (for the reservations' 15 minutes): fund for millions.
_FUNDS = 10**6 * 10**9

_CHAT = {
    "model": "sim-small",
    "messages": [{"role": "user", "content": "Say hello"}],
    "max_tokens": 20,
}
_MESSAGES = {
    "model": "claude-native",
    "messages": [{"role": "user", "content": "Say hello"}],
    "max_tokens": 20,
}
_RESPONSES = {"model": "responses-native", "input": "Say hello", "max_output_tokens": 20}
_STREAM = {"stream": True}
#: (name, path, body, connections); the direct baseline sends the simulator the same body
#: with the upstream's model name.
SCENARIOS: list[tuple[str, str, dict[str, Any], int]] = [
    ("non_streaming_c1", "/v1/chat/completions", _CHAT, 1),
    ("non_streaming_c64", "/v1/chat/completions", _CHAT, 64),
    ("streaming_c1", "/v1/chat/completions", _CHAT | _STREAM, 1),
    ("streaming_c64", "/v1/chat/completions", _CHAT | _STREAM, 64),
    ("messages_non_streaming_c64", "/v1/messages", _MESSAGES, 64),
    ("messages_streaming_c64", "/v1/messages", _MESSAGES | _STREAM, 64),
    ("responses_non_streaming_c64", "/v1/responses", _RESPONSES, 64),
    ("responses_streaming_c64", "/v1/responses", _RESPONSES | _STREAM, 64),
]


async def _measure(
    port: int,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    connections: int,
    seconds: float,
) -> dict[str, float]:
    request = build_request("127.0.0.1", port, path, orjson.dumps(body), headers)
    await run("127.0.0.1", port, request, min(connections, 8), 0.5)  # warm up
    return (await run("127.0.0.1", port, request, connections, seconds)).summary()


async def bench(seconds: float, rounds_per_scenario: int, only: str = "") -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="tollway-bench-"))
    broker = KafkaBroker(work / "kafka", free_port(), free_port())
    await asyncio.to_thread(broker.start)
    await ensure_topics(broker.bootstrap_servers)
    sim = ServiceProcess("services.simulator", free_port(), {"SIM_OUTPUT_TOKENS": "20"}, work)
    sim.env["TOLLWAY_SIMULATOR_PORT"] = str(sim.port)
    catalog = work / "catalog.toml"
    catalog.write_text(CATALOG.substitute(sim=sim.url, dead=free_port(), redacted=sim.url))
    gw_port = free_port()
    gw = ServiceProcess(
        "services.gateway",
        gw_port,
        gateway_env(broker.bootstrap_servers, catalog, work / "spool", gw_port),
        work,
    )
    try:
        sim.start()
        gw.start("/readyz")
        if (os.cpu_count() or 1) >= 2:
            # The gateway alone on core 0; the broker, simulator and load generator on core 1
            # (in production the broker is not on the gateway's machine).
            pin(gw.proc.pid, {0})  # type: ignore[union-attr]
            for pid in (sim.proc.pid, broker.proc.pid, os.getpid()):  # type: ignore[union-attr]
                pin(pid, {1})
        tenant = await Provisioner(broker.bootstrap_servers, gw).tenant(balance_nano=_FUNDS)
        auth = {"Authorization": f"Bearer {tenant.secret}"}
        results: dict[str, Any] = {}
        for name, path, body, connections in SCENARIOS:
            if only and not any(name.startswith(p) for p in only.split(",")):
                continue
            rounds = []
            for _ in range(rounds_per_scenario):
                upstream = body | {"model": "sim-small"}  # what the catalog's deployment calls
                direct = await _measure(sim.port, path, upstream, {}, connections, seconds)
                cpu0 = cpu_seconds(gw.proc.pid)  # type: ignore[union-attr]
                t0 = time.perf_counter()
                via = await _measure(gw_port, path, body, auth, connections, seconds)
                busy = (cpu_seconds(gw.proc.pid) - cpu0) / (time.perf_counter() - t0)  # type: ignore[union-attr]
                rounds.append(_round(direct, via, busy))
            results[name] = _median_round(rounds)
        if not only or "metrics" in only:
            results["metrics"] = await _metrics_cost(broker, catalog, work, gw, auth, seconds)
        if not only or "workers" in only:
            results["workers"] = await _workers(broker, work, gw, sim, seconds)
        async with __import__("httpx").AsyncClient() as client:
            status = (await client.get(gw.url + "/readyz")).json()
        results["gateway_rss_mb_after"] = rss_mb(gw.proc.pid)  # type: ignore[union-attr]
        results["events_sent"] = status["events_sent"]
        return results
    finally:
        gw.stop()
        sim.stop()
        await asyncio.to_thread(broker.stop)
        shutil.rmtree(work, ignore_errors=True)


async def _metrics_cost(
    broker: KafkaBroker,
    catalog: Path,
    work: Path,
    measured: ServiceProcess,
    auth: dict[str, str],
    seconds: float,
) -> dict[str, Any]:
    """The gateway with its request metrics (``measured``) against one without them
    (``TOLLWAY_METRICS=0``), on the same core, alternately, three rounds each, non-streaming
    at 64 connections: what counting every request costs in throughput and CPU."""
    port = free_port()
    env = gateway_env(broker.bootstrap_servers, catalog, work / "spool-bare", port)
    bare = ServiceProcess("services.gateway", port, env | {"TOLLWAY_METRICS": "0"}, work)
    bare.start("/readyz")
    try:
        await _every_worker_knows(bare, auth)
        if (os.cpu_count() or 1) >= 2:
            pin(bare.proc.pid, {0})  # type: ignore[union-attr]
        by: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
        for _ in range(3):
            for label, gateway in (("on", measured), ("off", bare)):
                cpu0, t0 = cpu_seconds(gateway.proc.pid), time.perf_counter()  # type: ignore[union-attr]
                got = await _measure(gateway.port, "/v1/chat/completions", _CHAT, auth, 64, seconds)
                if got["errors"] or not got["rps"]:
                    raise RuntimeError(f"metrics {label}: {got['errors']} answers not 200")
                busy = cpu_seconds(gateway.proc.pid) - cpu0  # type: ignore[union-attr]
                served = got["rps"] * (time.perf_counter() - t0)
                by[label].append(got | {"cpu_us_per_request": round(busy / served * 1e6, 1)})
    finally:
        bare.stop()
    middle = {k: sorted(v, key=lambda r: r["rps"])[1] for k, v in by.items()}
    on, off = middle["on"], middle["off"]
    return {
        "metrics_on": on | {"rps_spread": [r["rps"] for r in by["on"]]},
        "metrics_off": off | {"rps_spread": [r["rps"] for r in by["off"]]},
        "ratio_rps_on_to_off": round(on["rps"] / off["rps"], 3) if off["rps"] else None,
        "ratio_cpu_per_request_on_to_off": round(
            on["cpu_us_per_request"] / off["cpu_us_per_request"], 3
        ),
    }


def _gateway_cpu(pid: int) -> float:
    """CPU seconds of a gateway: the process, and its workers if it supervises some."""
    return cpu_seconds(pid) + sum(cpu_seconds(c) for c in children(pid))


async def _workers(
    broker: KafkaBroker, work: Path, single: ServiceProcess, sim: ServiceProcess, seconds: float
) -> dict[str, Any]:
    """One worker against two (``TOLLWAY_GATEWAY_WORKERS=2``), both free to use either core,
    alternately, three rounds each, non-streaming at 64 connections, in front of nginx
    answering a fixed completion and driven by wrk (``bench.native``: a few percent of the
    CPU at these rates, where the Python load generator and simulator would take about what
    the gateway takes). The broker shares the two cores too: the ratio is what a second
    worker adds on this machine, rps per gateway core whether a worker loses any."""
    for pid in (single.proc.pid, sim.proc.pid, broker.proc.pid, os.getpid()):  # type: ignore[union-attr]
        pin(pid, {0, 1})
    with fixed_upstream(work, free_port()) as upstream:
        catalog = work / "catalog-fixed.toml"
        catalog.write_text(CATALOG.substitute(sim=upstream, dead=free_port(), redacted=upstream))
        gateways = {}
        try:
            for n in ("1", "2"):
                port = free_port()
                env = gateway_env(broker.bootstrap_servers, catalog, work / f"spool-w{n}", port)
                gateways[n] = ServiceProcess(
                    "services.gateway", port, env | {"TOLLWAY_GATEWAY_WORKERS": n}, work
                ).start("/readyz")
            tenant = await Provisioner(broker.bootstrap_servers, gateways["1"]).tenant(
                balance_nano=_FUNDS
            )
            auth = {"Authorization": f"Bearer {tenant.secret}"}
            for gateway in gateways.values():
                await _every_worker_knows(gateway, auth)
            by: dict[str, list[dict[str, float]]] = {"1": [], "2": []}
            for _ in range(3):
                for n, gateway in gateways.items():
                    pid = gateway.proc.pid  # type: ignore[union-attr]
                    url = gateway.url + "/v1/chat/completions"
                    cpu0, t0 = _gateway_cpu(pid), time.perf_counter()
                    got = await asyncio.to_thread(wrk, url, _CHAT, auth, 64, seconds)
                    if got["errors"]:  # a rate of refusals says nothing of the gateway's
                        raise RuntimeError(f"{n} worker(s): {got['errors']} answers not 200")
                    busy = (_gateway_cpu(pid) - cpu0) / (time.perf_counter() - t0)
                    by[n].append(got | {"gateway_cpu_cores": round(busy, 3)})
        finally:
            for gateway in gateways.values():
                gateway.stop()
    summary: dict[str, Any] = {"upstream": "nginx, fixed answer", "load": "wrk -t1 -c64"}
    for n, rounds in by.items():
        middle = sorted(rounds, key=lambda r: r["rps"])[len(rounds) // 2]
        summary[f"workers_{n}"] = middle | {
            "rps_per_gateway_core": round(middle["rps"] / middle["gateway_cpu_cores"], 1)
            if middle["gateway_cpu_cores"]
            else None,
            "rps_spread": [min(r["rps"] for r in rounds), max(r["rps"] for r in rounds)],
            "errors": sum(r["errors"] for r in rounds),
        }
    one, two = summary["workers_1"], summary["workers_2"]
    summary["ratio_rps_2_to_1"] = round(two["rps"] / one["rps"], 3) if one["rps"] else None
    if one["rps_per_gateway_core"] and two["rps_per_gateway_core"]:
        summary["ratio_rps_per_core_2_to_1"] = round(
            two["rps_per_gateway_core"] / one["rps_per_gateway_core"], 3
        )
    return summary


async def _every_worker_knows(gateway: ServiceProcess, auth: dict[str, str]) -> None:
    """Each worker reads the keys from Kafka on its own: wait until a run of requests (the
    kernel spreads connections over the workers) all find the key."""
    import httpx

    async with httpx.AsyncClient(base_url=gateway.url) as client:
        for _ in range(100):
            answers = [(await client.get("/v1/models", headers=auth)).status_code for _ in range(8)]
            if all(code == 200 for code in answers):
                return
            await asyncio.sleep(0.2)
    raise RuntimeError("the gateway's workers never all knew the benchmark's key")


def _round(direct: dict[str, float], via: dict[str, float], busy: float) -> dict[str, Any]:
    return {
        "direct": direct,
        "gateway": via,
        "overhead_p50_ms": round(via["p50_ms"] - direct["p50_ms"], 3),
        "overhead_p99_ms": round(via["p99_ms"] - direct["p99_ms"], 3),
        "gateway_cpu_cores": round(busy, 3),
        "gateway_rps_per_core": round(via["rps"] / busy, 1) if busy else None,
        "ratio_rps_gateway_to_direct": round(via["rps"] / direct["rps"], 3)
        if direct["rps"]
        else None,
    }


def _median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median p99 overhead, and the spread of each figure over rounds.

    Each round measures the upstream directly, then through the gateway, back to back:
    this VM's speed drifts by tens of percent within minutes, so an overhead is only
    meaningful between neighbouring measurements."""
    ordered = sorted(rounds, key=lambda r: r["overhead_p99_ms"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["rounds"] = len(rounds)
    chosen["spread"] = {
        key: [min(r[key] or 0 for r in rounds), max(r[key] or 0 for r in rounds)]
        for key in ("overhead_p50_ms", "overhead_p99_ms", "gateway_rps_per_core")
    }
    return chosen


def _table(results: dict[str, Any]) -> str:
    rows = [
        "scenario               direct rps   p50    p99 | gateway rps   p50    p99 | "
        "+p50 ms  +p99 ms  gw cores  rps/core  errors"
    ]
    for key, r in results.items():
        if not isinstance(r, dict) or key in ("workers", "metrics"):
            continue
        d, g = r["direct"], r["gateway"]
        rows.append(
            f"{key:<22} {d['rps']:>10} {d['p50_ms']:>5} {d['p99_ms']:>6} | "
            f"{g['rps']:>11} {g['p50_ms']:>5} {g['p99_ms']:>6} | {r['overhead_p50_ms']:>7} "
            f"{r['overhead_p99_ms']:>8} {r['gateway_cpu_cores']:>9} "
            f"{r['gateway_rps_per_core']!s:>9} {g['errors']:>7}"
        )
        spread = r.get("spread")
        if spread:
            rows.append(
                f"{'':<22} over {r['rounds']} rounds: +p50 {spread['overhead_p50_ms']}, "
                f"+p99 {spread['overhead_p99_ms']}, rps/core {spread['gateway_rps_per_core']}"
            )
    metrics = results.get("metrics")
    if metrics:
        for label in ("on", "off"):
            m = metrics[f"metrics_{label}"]
            rows.append(
                f"metrics {label:<3} non-streaming c64: {m['rps']} rps (rounds {m['rps_spread']}),"
                f" p99 {m['p99_ms']} ms, {m['cpu_us_per_request']} us CPU a request"
            )
        rows.append(
            f"metrics on / off: {metrics['ratio_rps_on_to_off']}x rps, "
            f"{metrics['ratio_cpu_per_request_on_to_off']}x CPU a request"
        )
    workers = results.get("workers")
    if workers:
        for n in ("1", "2"):
            w = workers[f"workers_{n}"]
            rows.append(
                f"{n} worker(s), non-streaming c64: {w['rps']} rps (spread {w['rps_spread']}), "
                f"p99 {w['p99_ms']} ms, gateway cores {w['gateway_cpu_cores']}, "
                f"rps/core {w['rps_per_gateway_core']}"
            )
        rows.append(
            f"2 workers / 1 worker: {workers['ratio_rps_2_to_1']}x the rps, "
            f"{workers.get('ratio_rps_per_core_2_to_1')}x the rps per gateway core "
            f"({workers['upstream']}, {workers['load']})"
        )
    rows.append(
        f"gateway RSS after run: {results['gateway_rss_mb_after']} MB; "
        f"events sent: {results['events_sent']}"
    )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description="Tollway gateway benchmark")
    parser.add_argument("--seconds", type=float, default=3.0, help="per round and side")
    parser.add_argument("--rounds", type=int, default=3, help="direct/gateway pairs a scenario")
    parser.add_argument("--only", default="", help="scenarios whose names start with these")
    args = parser.parse_args()
    results = uvloop.run(bench(args.seconds, args.rounds, args.only))
    written = write_results(
        "gateway",
        results,
        machine={
            "cores": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        seconds_per_round=args.seconds,
        rounds=args.rounds,
        targets=TARGETS,
    )
    print(_table(results))
    print(f"wrote {written}")


if __name__ == "__main__":
    main()
