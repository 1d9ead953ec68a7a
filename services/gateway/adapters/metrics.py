"""The gateway's Prometheus series (``/metrics``), with the standard client library.

Labels are bounded: models and deployments come from the catalog, statuses and codes
from Tollway's own lists, never from what a client sent.
"""

from __future__ import annotations

import asyncio
import os
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

__all__ = ["PrometheusMetrics", "exposition", "refresh_spool", "watch_spool"]

_LATENCY = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

REQUESTS = Counter(
    "tollway_gateway_requests",
    "Model calls that reached an upstream (or tried), by how they ended.",
    ["surface", "model", "status", "http_status"],
)
REFUSALS = Counter(
    "tollway_gateway_refusals",
    "Requests answered with a 4xx, by error code (key, balance, limits, bad input…).",
    ["code"],
)
FAILOVERS = Counter(
    "tollway_gateway_failovers",
    "Upstream attempts that failed and passed the call to the next deployment.",
    ["deployment"],
)
OVERHEAD = Histogram(
    "tollway_gateway_overhead_seconds",
    "The gateway's own time before the upstream call: reading, checking, admitting.",
    ["surface"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)
TTFT = Histogram(
    "tollway_gateway_upstream_ttft_seconds",
    "From the upstream call to its first byte.",
    ["deployment"],
    buckets=_LATENCY,
)
TOTAL = Histogram(
    "tollway_gateway_upstream_seconds",
    "From the upstream call to the answer's end.",
    ["deployment"],
    buckets=_LATENCY,
)


class PrometheusMetrics:
    def completed(
        self,
        surface: str,
        model: str,
        deployment: str,
        status: str,
        http_status: int,
        ttft_s: float | None,
        total_s: float,
    ) -> None:
        REQUESTS.labels(surface, model, status, str(http_status)).inc()
        if ttft_s is not None:
            TTFT.labels(deployment).observe(ttft_s)
        TOTAL.labels(deployment).observe(total_s)

    def failover(self, deployment: str) -> None:
        FAILOVERS.labels(deployment).inc()

    def refused(self, code: str) -> None:
        REFUSALS.labels(code).inc()

    def overhead(self, surface: str, seconds: float) -> None:
        OVERHEAD.labels(surface).observe(seconds)


class SpoolSource(Protocol):
    @property
    def queued(self) -> int: ...

    @property
    def spooling(self) -> bool: ...

    def backlog_age(self) -> float: ...


#: Set by the supervisor of several workers (``entrypoints/workers.py``): each worker writes
#: its series to files there and a scrape, whichever worker answers it, adds them up.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

QUEUED = Gauge(
    "tollway_gateway_events_queued",
    "Request events waiting to be sent to Kafka.",
    multiprocess_mode="livesum",
)
SPOOLING = Gauge(
    "tollway_gateway_events_spooling",
    "1 while events go to the disk spool.",
    multiprocess_mode="livemax",
)
SPOOL_AGE = Gauge(
    "tollway_gateway_spool_age_seconds",
    "Age of the oldest spooled event.",
    multiprocess_mode="livemax",
)


def refresh_spool(source: SpoolSource) -> None:
    QUEUED.set(source.queued)
    SPOOLING.set(float(source.spooling))
    SPOOL_AGE.set(source.backlog_age())


async def watch_spool(source: SpoolSource, every_s: float = 1.0) -> None:
    """Keep the spool gauges current (a gauge read at scrape time cannot be shared between
    worker processes); a scrape also refreshes them for the worker answering it."""
    while True:
        refresh_spool(source)
        await asyncio.sleep(every_s)


def exposition() -> bytes:
    """The Prometheus text: this process's series, or every worker's added up."""
    if not MULTIPROCESS:
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
