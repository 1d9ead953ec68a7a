"""Billing's Prometheus series (``/metrics``), with the standard client library."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

__all__ = ["APPLIED", "BATCH_SECONDS", "DEAD_LETTERED", "LAG", "watch_accounts"]

BATCH_SECONDS = Histogram(
    "tollway_billing_batch_seconds",
    "Applying one batch and committing its transaction.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
APPLIED = Counter("tollway_billing_events_applied", "Records applied (in committed batches).")
DEAD_LETTERED = Counter(
    "tollway_billing_dead_lettered", "Records sent to the dead-letter topic, parked ones too."
)
LAG = Gauge(
    "tollway_billing_consumer_lag",
    "Records of each owned partition not yet applied.",
    ["topic", "partition"],
)


class _Accounts(Collector):
    """Accounts this process owns, by status (read when scraped)."""

    def __init__(self) -> None:
        self.statuses: Callable[[], Iterable[str]] = lambda: ()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "tollway_billing_accounts", "Accounts owned here, by status.", labels=["status"]
        )
        for status, count in sorted(Tally(self.statuses()).items()):
            family.add_metric([status], count)
        yield family


_ACCOUNTS = _Accounts()
REGISTRY.register(_ACCOUNTS)


def watch_accounts(statuses: Callable[[], Iterable[str]]) -> None:
    _ACCOUNTS.statuses = statuses
