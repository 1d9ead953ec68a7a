"""The support trail lists a request's events in the order they happened."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.metering.adapters import reports
from services.metering.adapters.clickhouse import ClickHouse

from .events import insert_events, request_events

pytestmark = pytest.mark.integration


def test_a_request_done_within_its_millisecond_lists_started_first(
    chdb_folder: Path, clickhouse_database: str
) -> None:
    clickhouse = ClickHouse(f"chdb://{chdb_folder}", clickhouse_database)
    clickhouse.migrate()
    at = datetime(2026, 11, 22, 12, 0, 0, 5000, tzinfo=UTC)  # both events in one millisecond
    started, completed = request_events("req-fast", "acc", at, took=timedelta(microseconds=400))
    # One part: sorted by its key, where 'request.completed' < 'request.started'.
    insert_events(clickhouse.client(), [completed, started])
    trail = reports.lookup(clickhouse.client(), "req-fast")
    assert trail is not None
    assert [e["event_type"] for e in trail["events"]] == ["request.started", "request.completed"]
