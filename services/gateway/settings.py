"""Gateway settings from the environment; defaults match ``make run``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["GatewaySettings"]


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _workers() -> int:
    raw = _env("TOLLWAY_GATEWAY_WORKERS", "1").strip().lower()
    if raw == "auto":
        return os.cpu_count() or 1
    if not raw.isdigit() or not 1 <= int(raw) <= 256:
        raise ValueError(f"TOLLWAY_GATEWAY_WORKERS must be from 1 to 256 or auto, not {raw!r}")
    return int(raw)


def _metrics() -> bool:
    raw = _env("TOLLWAY_METRICS", "1")
    if raw not in ("0", "1"):
        raise ValueError(f"TOLLWAY_METRICS must be 0 or 1, not {raw!r}")
    return raw == "1"


def _worker() -> int | None:
    raw = os.environ.get("TOLLWAY_GATEWAY_WORKER")
    return int(raw) if raw else None


def _spool(worker: int | None) -> Path:
    base = Path(
        _env(
            "TOLLWAY_GATEWAY_SPOOL_DIR",
            str(Path(_env("TOLLWAY_DATA_DIR", "data")) / "gateway-spool"),
        )
    )
    return base if worker is None else base / f"worker-{worker}"


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
    #: Processes serving the port (``auto``: one per core). More than one: a supervisor
    #: process binds the port and starts the workers, each with its own spool
    #: (``worker-<n>`` under the spool folder, the same after a restart) and its own view
    #: of keys and balances; rate limits are shared between them as between gateways.
    workers: int = field(default_factory=_workers)
    #: Request metrics on ``/metrics`` (``0`` leaves them out: ``make bench-gateway``
    #: measures what they cost against that).
    metrics: bool = field(default_factory=_metrics)
    #: Set by the supervisor for each worker: its number and the socket it serves.
    worker: int | None = field(default_factory=_worker)
    listen_fd: int | None = field(
        default_factory=lambda: (
            int(os.environ["TOLLWAY_GATEWAY_LISTEN_FD"])
            if os.environ.get("TOLLWAY_GATEWAY_LISTEN_FD")
            else None
        )
    )
    #: One spool folder per gateway process: it holds events Kafka could not take yet.
    spool_dir: Path = field(default_factory=lambda: _spool(_worker()))
    max_body_bytes: int = field(
        default_factory=lambda: int(_env("TOLLWAY_MAX_BODY_BYTES", str(10 * 1024 * 1024)))
    )
    #: The HTTP server's limits (see entrypoints/guarded_http.py): the request head's size
    #: and header count (431 beyond), how long the head and then the body may take to
    #: arrive (408), and how many connections may be open at once (503 beyond).
    max_header_bytes: int = field(
        default_factory=lambda: int(_env("TOLLWAY_MAX_HEADER_BYTES", str(32 * 1024)))
    )
    max_headers: int = field(default_factory=lambda: int(_env("TOLLWAY_MAX_HEADERS", "100")))
    header_timeout_s: float = field(
        default_factory=lambda: float(_env("TOLLWAY_HEADER_TIMEOUT_S", "10"))
    )
    body_timeout_s: float = field(
        default_factory=lambda: float(_env("TOLLWAY_BODY_TIMEOUT_S", "30"))
    )
    max_connections: int = field(
        default_factory=lambda: int(_env("TOLLWAY_MAX_CONNECTIONS", "1024"))
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
    #: Where ``/v1/me`` (members: sign-in, their keys) is forwarded: billing's API.
    billing_url: str = field(
        default_factory=lambda: _env(
            "TOLLWAY_BILLING_URL",
            f"http://127.0.0.1:{_env('TOLLWAY_BILLING_PORT', '8081')}",
        )
    )
    #: A token metering takes for usage (support or finance scope): the gateway asks it for
    #: one account's usage on a key's behalf. Unset: ``GET /v1/usage`` answers 503.
    admin_token: str | None = field(default_factory=lambda: os.environ.get("TOLLWAY_ADMIN_TOKEN"))
    #: Headers that ask for zero-data-retention routing: X-Tollway-ZDR, and the names in
    #: TOLLWAY_ZDR_HEADER_ALIASES (comma-separated), for clients that send another vendor's.
    zdr_headers: tuple[str, ...] = field(
        default_factory=lambda: (
            "x-tollway-zdr",
            *(
                name.strip().lower()
                for name in os.environ.get("TOLLWAY_ZDR_HEADER_ALIASES", "").split(",")
                if name.strip()
            ),
        )
    )
    log_level: str = field(default_factory=lambda: _env("TOLLWAY_LOG_LEVEL", "INFO"))
    access_log: bool = field(default_factory=lambda: _env("TOLLWAY_ACCESS_LOG", "0") == "1")
