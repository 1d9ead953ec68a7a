"""Gateway settings a tired operator may get wrong: the worker count, the metrics switch."""

from __future__ import annotations

import os

import pytest

from services.gateway.settings import GatewaySettings


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
    assert settings.workers == (os.cpu_count() or 1)
    assert str(settings.spool_dir) == "/spool/worker-1"


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
