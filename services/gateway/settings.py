"""Gateway settings from the environment; defaults match ``make run``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from schemas.settings import (
    env_flag,
    env_float,
    env_int,
    env_path,
    env_port,
    env_set,
    env_text,
    kafka_bootstrap,
)

__all__ = ["GatewaySettings"]


def usable_cores(cgroup: Path = Path("/sys/fs/cgroup"), affinity: int | None = None) -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup CPU quota (a
    container's ``cpus`` or a pod's CPU limit, rounded down, at least 1). ``os.cpu_count()``
    sees neither: in a one-core container on a 64-core host it says 64, and 64 workers
    would not fit the container's memory. Read by hand as nothing in the standard library
    or our dependencies does (Go's automaxprocs does the same)."""
    if affinity is None:  # given only by the tests, for a 64-core host
        has_affinity = hasattr(os, "sched_getaffinity")
        affinity = len(os.sched_getaffinity(0)) if has_affinity else os.cpu_count() or 1
    quota = _cgroup_quota(cgroup)
    return max(1, affinity if quota is None else min(affinity, int(quota)))


def _cgroup_quota(root: Path) -> float | None:
    """CPUs of quota a period, from cgroup v2's ``cpu.max`` or v1's ``cpu.cfs_*``; None
    where there is none."""
    try:
        limit, every = (root / "cpu.max").read_text().split()
        return None if limit == "max" else int(limit) / int(every)
    except (OSError, ValueError, ZeroDivisionError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError, ZeroDivisionError):
        return None


def _workers() -> int:
    raw = env_text("TOLLWAY_GATEWAY_WORKERS", "1").strip().lower()
    if raw == "auto":
        return usable_cores()
    if not raw.isdigit() or not 1 <= int(raw) <= 256:
        raise ValueError(f"TOLLWAY_GATEWAY_WORKERS must be from 1 to 256 or auto, not {raw!r}")
    return int(raw)


def _worker() -> int | None:
    """Set by the supervisor for each worker it starts (0, 1, ...); unset: no workers."""
    if not env_set("TOLLWAY_GATEWAY_WORKER"):
        return None
    return env_int("TOLLWAY_GATEWAY_WORKER", 0, high=255)


def _spool(worker: int | None) -> Path:
    base = Path(
        env_text(
            "TOLLWAY_GATEWAY_SPOOL_DIR",
            str(env_path("TOLLWAY_DATA_DIR", "data") / "gateway-spool"),
        )
    )
    return base if worker is None else base / f"worker-{worker}"


def _optional_float(name: str) -> float | None:
    return env_float(name, 0.0) if env_set(name) else None


@dataclass(frozen=True)
class GatewaySettings:
    kafka_bootstrap: str = field(default_factory=lambda: kafka_bootstrap())
    port: int = field(default_factory=lambda: env_port("TOLLWAY_GATEWAY_PORT", 8080))
    host: str = field(default_factory=lambda: env_text("TOLLWAY_GATEWAY_HOST", "127.0.0.1"))
    catalog: Path = field(default_factory=lambda: env_path("TOLLWAY_CATALOG", "infra/catalog.toml"))
    #: Processes serving the port (``auto``: one per core). More than one: a supervisor
    #: process binds the port and starts the workers, each with its own spool
    #: (``worker-<n>`` under the spool folder, the same after a restart) and its own view
    #: of keys and balances; rate limits are shared between them as between gateways.
    workers: int = field(default_factory=_workers)
    #: Request metrics on ``/metrics`` (``0`` leaves them out: ``make bench-gateway``
    #: measures what they cost against that).
    metrics: bool = field(default_factory=lambda: env_flag("TOLLWAY_METRICS", True))
    #: Set by the supervisor for each worker: its number and the socket it serves.
    worker: int | None = field(default_factory=_worker)
    listen_fd: int | None = field(
        default_factory=lambda: (
            env_int("TOLLWAY_GATEWAY_LISTEN_FD", 0)
            if env_set("TOLLWAY_GATEWAY_LISTEN_FD")
            else None
        )
    )
    #: One spool folder per gateway process: it holds events Kafka could not take yet.
    spool_dir: Path = field(default_factory=lambda: _spool(_worker()))
    max_body_bytes: int = field(
        default_factory=lambda: env_int("TOLLWAY_MAX_BODY_BYTES", 10 * 1024 * 1024, low=1)
    )
    #: The HTTP server's limits (see entrypoints/guarded_http.py): the request head's size
    #: and header count (431 beyond), how long the head and then the body may take to
    #: arrive (408), and how many connections may be open at once (503 beyond).
    max_header_bytes: int = field(
        default_factory=lambda: env_int("TOLLWAY_MAX_HEADER_BYTES", 32 * 1024, low=1)
    )
    max_headers: int = field(default_factory=lambda: env_int("TOLLWAY_MAX_HEADERS", 100, low=1))
    #: How long a kept-alive connection may sit idle between requests. Longer than the
    #: clients' (httpx and the SDKs: 5 s) and load balancers' (60 s) own limits, so that they
    #: close first: a connection the gateway closes as a client reuses it fails a request.
    keepalive_s: int = field(
        default_factory=lambda: env_int("TOLLWAY_KEEPALIVE_S", 75, low=1, high=3600)
    )
    header_timeout_s: float = field(
        default_factory=lambda: env_float("TOLLWAY_HEADER_TIMEOUT_S", 10, low=0.001)
    )
    body_timeout_s: float = field(
        default_factory=lambda: env_float("TOLLWAY_BODY_TIMEOUT_S", 30, low=0.001)
    )
    max_connections: int = field(
        default_factory=lambda: env_int("TOLLWAY_MAX_CONNECTIONS", 1024, low=1)
    )
    #: Refuse new requests (503) while spooled events are older than this; unset: keep serving.
    refuse_when_backlog_older_than_s: float | None = field(
        default_factory=lambda: _optional_float("TOLLWAY_REFUSE_WHEN_BACKLOG_S")
    )
    #: How long the producer gathers request events into one batch. Each batch costs the
    #: event loop a few hundred microseconds that a request arriving then waits through:
    #: 20 ms (vs 5) took ~1 ms off the unloaded p99 (bench/gateway), for events that reach
    #: Kafka at most 20 ms later.
    events_linger_ms: int = field(default_factory=lambda: env_int("TOLLWAY_EVENTS_LINGER_MS", 20))
    #: How often each instance tells the others what rate-limited keys used (0: never, and
    #: each instance applies limits alone).
    limits_report_ms: int = field(default_factory=lambda: env_int("TOLLWAY_LIMITS_REPORT_MS", 100))
    #: Where ``GET /v1/usage`` reads a key holder's usage (the metering service's API).
    metering_url: str = field(
        default_factory=lambda: env_text(
            "TOLLWAY_METERING_URL",
            f"http://127.0.0.1:{env_text('TOLLWAY_METERING_PORT', '8082')}",
        )
    )
    #: Where ``/v1/me`` (members: sign-in, their keys) is forwarded: billing's API.
    billing_url: str = field(
        default_factory=lambda: env_text(
            "TOLLWAY_BILLING_URL",
            f"http://127.0.0.1:{env_text('TOLLWAY_BILLING_PORT', '8081')}",
        )
    )
    #: The gateway's own admin token, TOLLWAY_GATEWAY_TOKEN (else TOLLWAY_ADMIN_TOKEN): it
    #: asks metering for one account's usage on a key's behalf (the support scope is all it
    #: needs; the gateway faces clients, so give it no more), and ``/metrics`` takes it.
    #: Unset: ``GET /v1/usage`` answers 503.
    service_token: str | None = field(
        default_factory=lambda: (
            os.environ.get("TOLLWAY_GATEWAY_TOKEN") or os.environ.get("TOLLWAY_ADMIN_TOKEN")
        ),
        repr=False,
    )
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
    log_level: str = field(default_factory=lambda: env_text("TOLLWAY_LOG_LEVEL", "INFO"))
    access_log: bool = field(default_factory=lambda: env_flag("TOLLWAY_ACCESS_LOG", False))
