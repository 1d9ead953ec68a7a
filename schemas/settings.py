"""Settings from the environment, read one way by every service.

An empty variable counts as unset (a compose file's ``X=`` or a shell's ``X= cmd``), and a
value a setting cannot take stops the service with the variable's name, the value and what
it takes, not Python's ``invalid literal for int() with base 10``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = [
    "SettingError",
    "env_flag",
    "env_float",
    "env_int",
    "env_path",
    "env_port",
    "env_set",
    "env_text",
    "kafka_bootstrap",
]

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class SettingError(ValueError):
    """A setting's value it cannot take; the message names the variable."""


def env_text(name: str, default: str = "") -> str:
    return os.environ.get(name) or default


def env_set(name: str) -> bool:
    """The variable has a value (for settings whose absence means "off", not a default)."""
    return bool(os.environ.get(name))


def env_int(name: str, default: int, low: int = 0, high: int = 2**63 - 1) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise SettingError(f"{name}={raw!r}: expected a whole number from {low} to {high}")
    return value


def env_float(name: str, default: float, low: float = 0.0, high: float = math.inf) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # NaN fails both comparisons
        upper = "" if high == math.inf else f" to {high:g}"
        raise SettingError(f"{name}={raw!r}: expected a number from {low:g}{upper}")
    return value


def env_port(name: str, default: int) -> int:
    return env_int(name, default, low=1, high=65535)


def env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if not raw:
        return default
    word = raw.strip().lower()
    if word not in _TRUE + _FALSE:
        raise SettingError(f"{name}={raw!r}: expected 1 or 0 (true or false)")
    return word in _TRUE


def env_path(name: str, default: str | Path) -> Path:
    return Path(env_text(name, str(default)))


def kafka_bootstrap() -> str:
    """``KAFKA_BOOTSTRAP_SERVERS``: every service's brokers (``make run``'s one by default)."""
    return env_text("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
