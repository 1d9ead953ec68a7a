"""Gateway settings from the environment; defaults match ``make run``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["GatewaySettings"]


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _optional_float(name: str) -> float | None:
    raw = os.environ.get(name)
    return float(raw) if raw else None


@dataclass(frozen=True)
class GatewaySettings:
    kafka_bootstrap: str = field(
        default_factory=lambda: _env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    port: int = field(default_factory=lambda: int(_env("TOLLWAY_GATEWAY_PORT", "8080")))
    host: str = field(default_factory=lambda: _env("TOLLWAY_GATEWAY_HOST", "127.0.0.1"))
    catalog: Path = field(
        default_factory=lambda: Path(_env("TOLLWAY_CATALOG", "infra/catalog.toml"))
    )
    #: One spool folder per gateway process: it holds events Kafka could not take yet.
    spool_dir: Path = field(
        default_factory=lambda: Path(
            _env(
                "TOLLWAY_GATEWAY_SPOOL_DIR",
                str(Path(_env("TOLLWAY_DATA_DIR", "data")) / "gateway-spool"),
            )
        )
    )
    max_body_bytes: int = field(
        default_factory=lambda: int(_env("TOLLWAY_MAX_BODY_BYTES", str(10 * 1024 * 1024)))
    )
    #: Refuse new requests (503) while spooled events are older than this; unset: keep serving.
    refuse_when_backlog_older_than_s: float | None = field(
        default_factory=lambda: _optional_float("TOLLWAY_REFUSE_WHEN_BACKLOG_S")
    )
    #: How long the producer gathers request events into one batch. Each batch costs the
    #: event loop a few hundred microseconds that a request arriving then waits through:
    #: 20 ms (vs 5) took ~1 ms off the unloaded p99 (bench/gateway), for events that reach
    #: Kafka at most 20 ms later.
    events_linger_ms: int = field(
        default_factory=lambda: int(_env("TOLLWAY_EVENTS_LINGER_MS", "20"))
    )
    #: How often each instance tells the others what rate-limited keys used (0: never, and
    #: each instance applies limits alone).
    limits_report_ms: int = field(
        default_factory=lambda: int(_env("TOLLWAY_LIMITS_REPORT_MS", "100"))
    )
    #: Where ``GET /v1/usage`` reads a key holder's usage (the metering service's API).
    metering_url: str = field(
        default_factory=lambda: _env(
            "TOLLWAY_METERING_URL",
            f"http://127.0.0.1:{_env('TOLLWAY_METERING_PORT', '8082')}",
        )
    )
    #: Shared with metering: the gateway asks it for one account's usage on a key's behalf.
    admin_token: str = field(
        default_factory=lambda: _env("TOLLWAY_ADMIN_TOKEN", "tollway-dev-admin-token")
    )
    log_level: str = field(default_factory=lambda: _env("TOLLWAY_LOG_LEVEL", "INFO"))
    access_log: bool = field(default_factory=lambda: _env("TOLLWAY_ACCESS_LOG", "0") == "1")
