"""Metering settings from the environment; defaults match ``make run``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEV_ADMIN_TOKEN", "MeteringSettings"]

#: The admin token of a local run. Set TOLLWAY_ADMIN_TOKEN anywhere else.
DEV_ADMIN_TOKEN = "tollway-dev-admin-token"  # noqa: S105 - a documented local default


def _default_clickhouse_url() -> str:
    data = Path(os.environ.get("TOLLWAY_DATA_DIR", "data")).resolve()
    return f"chdb://{data / 'clickhouse'}"


@dataclass(frozen=True)
class MeteringSettings:
    kafka_bootstrap: str = field(
        default_factory=lambda: os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    clickhouse_url: str = field(
        default_factory=lambda: os.environ.get("CLICKHOUSE_URL") or _default_clickhouse_url()
    )
    clickhouse_database: str = field(
        default_factory=lambda: os.environ.get("CLICKHOUSE_DATABASE", "tollway")
    )
    port: int = field(default_factory=lambda: int(os.environ.get("TOLLWAY_METERING_PORT", "8082")))
    admin_token: str = field(
        default_factory=lambda: os.environ.get("TOLLWAY_ADMIN_TOKEN") or DEV_ADMIN_TOKEN
    )
