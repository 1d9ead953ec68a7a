"""Gateway settings a tired operator may get wrong: the worker count, the metrics switch."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.gateway.settings import GatewaySettings, usable_cores


@pytest.mark.parametrize("given", ["0", "-1", "257", "many"])
def test_a_worker_count_out_of_range_is_refused_at_start(
    given: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLWAY_GATEWAY_WORKERS", given)
    with pytest.raises(ValueError, match="from 1 to 256 or auto"):
        GatewaySettings()


def test_auto_is_one_worker_per_core_and_each_worker_has_its_own_spool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOLLWAY_GATEWAY_WORKERS", "auto")
    monkeypatch.setenv("TOLLWAY_GATEWAY_SPOOL_DIR", "/spool")
    monkeypatch.setenv("TOLLWAY_GATEWAY_WORKER", "1")
    settings = GatewaySettings()
    assert settings.workers == usable_cores()
    assert str(settings.spool_dir) == "/spool/worker-1"


@pytest.mark.parametrize(
    ("files", "cores"),
    [
        ({"cpu.max": "100000 100000\n"}, 1),  # docker --cpus 1
        ({"cpu.max": "250000 100000\n"}, 2),  # 2.5 CPUs: two workers, not three contending
        ({"cpu.max": "50000 100000\n"}, 1),  # half a CPU still runs one
        ({"cpu.max": "max 100000\n"}, None),  # no limit: every core it may run on
        ({"cpu/cpu.cfs_quota_us": "300000", "cpu/cpu.cfs_period_us": "100000"}, 3),  # v1
        ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),
        ({"cpu.max": "garbage"}, None),
        ({}, None),  # no cgroup files at all
    ],
)
def test_auto_counts_the_cores_a_container_may_use_not_the_hosts(
    files: dict[str, str], cores: int | None, tmp_path: Path
) -> None:
    """A pod limited to one CPU on a 64-core node must not start 64 workers in its memory."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert usable_cores(tmp_path, affinity=64) == (cores or 64)
    assert usable_cores(tmp_path, affinity=1) == 1  # pinned to one core: one, whatever the quota


@pytest.mark.parametrize(
    ("given", "wanted"), [("1", True), ("0", False), ("", True), ("off", False), ("TRUE", True)]
)
def test_request_metrics_are_on_unless_switched_off(
    given: str, wanted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLWAY_METRICS", given)
    assert GatewaySettings().metrics is wanted


def test_a_metrics_switch_that_is_not_a_yes_or_no_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOLLWAY_METRICS", "maybe")
    with pytest.raises(ValueError, match="TOLLWAY_METRICS='maybe': expected 1 or 0"):
        GatewaySettings()
