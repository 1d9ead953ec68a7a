"""The dispatcher's Prometheus series (``/metrics``), read from the dispatcher when scraped."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

__all__ = ["watch"]


class _Deliveries(Collector):
    def __init__(self) -> None:
        self.dispatcher: Any = None

    def collect(self) -> Iterable[CounterMetricFamily | GaugeMetricFamily]:
        d = self.dispatcher
        if d is None:
            return
        done = CounterMetricFamily(
            "tollway_dispatcher_deliveries",
            "Webhook deliveries finished since start, by outcome.",
            labels=["outcome"],
        )
        done.add_metric(["delivered"], d.delivered)
        done.add_metric(["failed"], d.failed)
        yield done
        yield CounterMetricFamily(
            "tollway_dispatcher_alerts_skipped", "Alerts no delivery could be made of.", d.skipped
        )
        pending = sum(x.status == "pending" for x in d.deliveries.values())
        yield GaugeMetricFamily(
            "tollway_dispatcher_pending", "Deliveries waiting for an attempt or a retry.", pending
        )


_DELIVERIES = _Deliveries()
REGISTRY.register(_DELIVERIES)


def watch(dispatcher: Any) -> None:
    _DELIVERIES.dispatcher = dispatcher
