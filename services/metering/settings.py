"""Metering settings from the environment; defaults match ``make run``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from schemas.admin_access import TokenBook

__all__ = ["MeteringSettings"]


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
    #: 0.0.0.0 in a container; the default keeps a local run off the network.
    host: str = field(default_factory=lambda: os.environ.get("TOLLWAY_METERING_HOST", "127.0.0.1"))
    #: Who may call the reporting API: TOLLWAY_ADMIN_TOKEN and the tokens file (no default).
    tokens: TokenBook = field(default_factory=TokenBook.from_environment)
