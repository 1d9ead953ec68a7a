"""Metering's Prometheus series (``/metrics``), with the standard client library. Rows per
second is ``rate(tollway_metering_rows_written_total[1m])``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = ["DEAD_LETTERED", "LAG", "ROWS_WRITTEN"]

ROWS_WRITTEN = Counter("tollway_metering_rows_written", "Rows inserted into ClickHouse.", ["table"])
DEAD_LETTERED = Counter("tollway_metering_dead_lettered", "Records sent to the dead-letter topic.")
LAG = Gauge(
    "tollway_metering_consumer_lag",
    "Records of each assigned partition not yet in ClickHouse (committed).",
    ["topic", "partition"],
)
