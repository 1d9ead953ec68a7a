"""Every service reads its settings one way: an empty variable is unset, and a value the
setting cannot take stops the service with the variable named (what a tired operator needs),
never Python's ``invalid literal for int()``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from schemas.settings import SettingError, env_float, env_int, env_path
from services.billing.settings import BillingSettings
from services.console.settings import ConsoleSettings
from services.dispatcher.settings import DispatcherSettings
from services.gateway.settings import GatewaySettings
from services.metering.settings import MeteringSettings
from services.simulator.settings import SimSettings

SERVICES: dict[str, Callable[[], Any]] = {
    "billing": BillingSettings,
    "console": ConsoleSettings,
    "dispatcher": DispatcherSettings,
    "gateway": GatewaySettings,
    "metering": MeteringSettings,
    "simulator": SimSettings,
}


@pytest.fixture(autouse=True)
def _console_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOLLWAY_CONSOLE_TOKEN", "t")


@pytest.mark.parametrize(
    ("service", "variable", "value", "expected"),
    [
        ("gateway", "TOLLWAY_GATEWAY_PORT", "80a", "from 1 to 65535"),
        ("gateway", "TOLLWAY_GATEWAY_PORT", "70000", "from 1 to 65535"),
        ("gateway", "TOLLWAY_MAX_BODY_BYTES", "-1", "whole number from 1"),
        ("gateway", "TOLLWAY_BODY_TIMEOUT_S", "0", "number from 0.001"),
        ("gateway", "TOLLWAY_REFUSE_WHEN_BACKLOG_S", "soon", "number from 0"),
        ("gateway", "TOLLWAY_ACCESS_LOG", "sometimes", "expected 1 or 0"),
        ("gateway", "TOLLWAY_KEEPALIVE_S", "0", "whole number from 1"),
        ("gateway", "TOLLWAY_KEEPALIVE_S", "75s", "whole number from 1"),
        ("billing", "TOLLWAY_HOLD_TTL_S", "15m", "whole number from 0"),
        ("billing", "TOLLWAY_CLOCK_TICK_S", "nan", "number from 0"),
        ("metering", "TOLLWAY_METERING_PORT", "0", "from 1 to 65535"),
        ("dispatcher", "TOLLWAY_WEBHOOK_TIMEOUT_S", "-3", "number from 0"),
        ("console", "TOLLWAY_CONSOLE_SESSION_S", "12h", "whole number from 0"),
        ("console", "TOLLWAY_CONSOLE_SECURE_COOKIES", "secure", "expected 1 or 0"),
        ("simulator", "SIM_OUTPUT_TOKENS", "twenty", "whole number from 0"),
    ],
)
def test_a_value_a_setting_cannot_take_is_refused_with_its_name(
    service: str, variable: str, value: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingError, match=f"^{variable}='{value}': .*{expected}"):
        SERVICES[service]()


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_an_empty_variable_is_the_default(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose files and shells pass ``X=`` for "not set": every service treats it so."""
    defaults = _plain(SERVICES[service]())
    for variable in (
        "KAFKA_BOOTSTRAP_SERVERS",
        "TOLLWAY_GATEWAY_PORT",
        "TOLLWAY_BILLING_PORT",
        "TOLLWAY_METERING_PORT",
        "TOLLWAY_CONSOLE_PORT",
        "TOLLWAY_DISPATCHER_PORT",
        "TOLLWAY_DATA_DIR",
        "SIM_OUTPUT_TOKENS",
        "CLICKHOUSE_DATABASE",
    ):
        monkeypatch.setenv(variable, "")
    assert _plain(SERVICES[service]()) == defaults


def _plain(settings: Any) -> dict[str, Any]:
    """The settings read from one variable each (not the token book, nor a random secret)."""
    return {
        f.name: getattr(settings, f.name)
        for f in dataclasses.fields(settings)
        if isinstance(getattr(settings, f.name), str | int | float | Path | tuple)
    }


def test_values_are_read_with_surrounding_space_forgiven(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_INT", " 42 ")
    monkeypatch.setenv("X_FLOAT", "0.5\n")
    assert env_int("X_INT", 1) == 42
    assert env_float("X_FLOAT", 1.0) == 0.5
    assert str(env_path("X_UNSET", "data")) == "data"


@pytest.mark.parametrize("service", ["billing", "dispatcher"])
@pytest.mark.parametrize("key", ["hunter2-hunter2-hunter2-hunter2", "5e" * 15, "zz" * 32])
def test_a_webhook_key_that_is_not_16_bytes_of_hex_is_refused_without_showing_it(
    service: str, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every webhook's signing secret derives from it: a typed word would let anyone who
    guesses it sign deliveries, and bytes.fromhex's own error names no variable."""
    monkeypatch.setenv("TOLLWAY_WEBHOOK_KEY", key)
    with pytest.raises(SettingError, match=r"^TOLLWAY_WEBHOOK_KEY must be at least 16") as bad:
        SERVICES[service]()
    assert key not in str(bad.value)
    monkeypatch.setenv("TOLLWAY_WEBHOOK_KEY", "5e" * 16)
    SERVICES[service]()
