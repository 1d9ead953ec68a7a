"""One report from the three benchmarks: every figure next to its target.

Reads ``bench/results/{gateway,billing,metering}.json`` (written by ``make
bench-gateway``, ``bench-billing``, ``bench-metering``) and writes
``bench/results/latest.json`` and ``bench/results/latest.md``. A benchmark not
run yet shows as such; nothing is carried over from elsewhere.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(benchmark: str, results: dict[str, Any], **extra: Any) -> Path:
    """``bench/results/<benchmark>.json``: the results, when they were taken, and ``extra``
    (targets, the machine, the run's settings), as ``collect`` reads them."""
    report = {
        "benchmark": benchmark,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
        "results": results,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{benchmark}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


@dataclass(frozen=True)
class Figure:
    area: str
    measure: str
    value: float | None
    unit: str
    target: float
    higher_is_better: bool

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target


Spec = tuple[str, str, Callable[[dict[str, Any]], float], str, float, bool]

SPECS: dict[str, list[Spec]] = {
    "gateway": [
        (
            "gateway",
            "added latency p50, 1 connection, non-streaming",
            lambda r: r["non_streaming_c1"]["overhead_p50_ms"],
            "ms",
            1.0,
            False,
        ),
        (
            "gateway",
            "added latency p50, 1 connection, streaming",
            lambda r: r["streaming_c1"]["overhead_p50_ms"],
            "ms",
            1.0,
            False,
        ),
        (
            "gateway",
            "added latency p99, 1 connection, non-streaming",
            lambda r: r["non_streaming_c1"]["overhead_p99_ms"],
            "ms",
            3.0,
            False,
        ),
        (
            "gateway",
            "added latency p99, 1 connection, streaming",
            lambda r: r["streaming_c1"]["overhead_p99_ms"],
            "ms",
            3.0,
            False,
        ),
        (
            "gateway",
            "requests/s per core, 64 connections, non-streaming",
            lambda r: r["non_streaming_c64"]["gateway_rps_per_core"],
            "req/s",
            1500,
            True,
        ),
        (
            "gateway",
            "requests/s per core, 64 connections, streaming",
            lambda r: r["streaming_c64"]["gateway_rps_per_core"],
            "req/s",
            800,
            True,
        ),
        ("gateway", "RSS after the run", lambda r: r["gateway_rss_mb_after"], "MB", 150, False),
    ],
    "billing": [
        (
            "billing",
            "events/s, one consumer, transactions",
            lambda r: r["throughput"]["events_per_second"],
            "events/s",
            20_000,
            True,
        ),
        (
            "billing",
            "request.completed to insufficient_balance readable, p99",
            lambda r: r["block_latency"]["p99_ms"],
            "ms",
            250,
            False,
        ),
    ],
    "metering": [
        (
            "metering",
            "a month's finance report, 10M requests, p50",
            lambda r: r["queries"]["finance_month"]["p50_ms"] / 1000,
            "s",
            1.0,
            False,
        ),
        (
            "metering",
            "one account's month, p99",
            lambda r: r["queries"]["account_month"]["p99_ms"],
            "ms",
            50,
            False,
        ),
        (
            "metering",
            "lookup by request_id, p99",
            lambda r: r["queries"]["lookup"]["p99_ms"],
            "ms",
            20,
            False,
        ),
        (
            "metering",
            "ingest Kafka to ClickHouse, steady",
            lambda r: r["ingest"]["events_per_second"],
            "events/s",
            50_000,
            True,
        ),
        (
            "metering",
            "request.completed to row visible, p99",
            lambda r: r["ingest"]["lag"]["p99_s"],
            "s",
            2.0,
            False,
        ),
    ],
}


def collect(results: Path = RESULTS) -> tuple[list[Figure], dict[str, str | None]]:
    figures, when = [], {}
    for name, specs in SPECS.items():
        path = results / f"{name}.json"
        data = json.loads(path.read_text()) if path.exists() else None
        when[name] = data.get("when") if data else None
        for area, measure, read, unit, target, higher in specs:
            value = None
            if data is not None:
                try:
                    value = round(float(read(data["results"])), 3)
                except (KeyError, TypeError):
                    value = None
            figures.append(Figure(area, measure, value, unit, target, higher))
    return figures, when


def markdown(figures: list[Figure], when: dict[str, str | None]) -> str:
    lines = [
        "# Tollway benchmarks",
        "",
        "Runs: " + ", ".join(f"{k} {v or 'not run'}" for k, v in when.items()),
        "",
        "| area | measure | result | target | |",
        "|---|---|---|---|---|",
    ]
    for f in figures:
        sign = "≥" if f.higher_is_better else "≤"
        result = "not run" if f.value is None else f"{f.value:,g} {f.unit}"
        mark = {True: "✓", False: "✗", None: "n/a"}[f.met]
        lines.append(
            f"| {f.area} | {f.measure} | {result} | {sign} {f.target:,g} {f.unit} | {mark} |"
        )
    met = sum(1 for f in figures if f.met)
    lines += ["", f"{met} of {len(figures)} targets met."]
    return "\n".join(lines) + "\n"


def main(results: Path = RESULTS) -> int:
    figures, when = collect(results)
    report = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "runs": when,
        "figures": [asdict(f) | {"met": f.met} for f in figures],
        "targets_met": sum(1 for f in figures if f.met),
        "targets": len(figures),
    }
    (results / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(figures, when)
    (results / "latest.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
