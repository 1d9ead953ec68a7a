"""`make bench`'s summary: each figure beside its target, and a benchmark not run says so."""

from __future__ import annotations

import json
from pathlib import Path

from bench import report


def test_figures_are_judged_against_targets_and_missing_runs_show(tmp_path: Path) -> None:
    results = {
        "throughput": {"events_per_second": 25_000.4},
        "block_latency": {"p99_ms": 300.0},
    }
    (tmp_path / "billing.json").write_text(
        json.dumps({"when": "2026-11-22T00:00:00Z", "results": results})
    )
    assert report.main(tmp_path) == 0
    latest = json.loads((tmp_path / "latest.json").read_text())
    billing = {f["measure"]: f for f in latest["figures"] if f["area"] == "billing"}
    assert billing["events/s, one consumer, transactions"]["met"] is True
    assert billing["request.completed to insufficient_balance readable, p99"]["met"] is False
    others = [f for f in latest["figures"] if f["area"] != "billing"]
    assert others and all(f["value"] is None and f["met"] is None for f in others)
    assert latest["targets_met"] == 1
    text = (tmp_path / "latest.md").read_text()
    assert "| 300 ms | ≤ 250 ms | ✗ |" in text and "gateway not run" in text
