"""The support trail lists a request's events in the order they happened."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.events import RequestCompleted, RequestStarted
from services.metering.adapters.clickhouse import ClickHouse
from services.metering.domain.rows import tables_of
from services.metering.service_layer import reports

pytestmark = pytest.mark.integration


def test_a_request_done_within_its_millisecond_lists_started_first(
    chdb_folder: Path, clickhouse_database: str
) -> None:
    clickhouse = ClickHouse(f"chdb://{chdb_folder}", clickhouse_database)
    clickhouse.migrate()
    at = datetime(2026, 11, 22, 12, 0, 0, 5000, tzinfo=UTC)  # both events in one millisecond
    common = {
        "request_id": "req-fast",
        "account_id": "acc",
        "key_id": "k",
        "model": "m",
        "deployment": "d",
        "surface": "openai.chat",
        "stream": False,
    }
    started = RequestStarted(**common, prompt_tokens_estimate=5, occurred_at=at)
    completed = RequestCompleted(
        **common,
        started_at=at,
        status="succeeded",
        http_status=200,
        prompt_tokens=5,
        completion_tokens=2,
        cache_read_tokens=0,
        cache_write_tokens=0,
        usage_source="upstream",
        latency_ms=0.4,
        occurred_at=at,
    )
    # One part: sorted by its key, where 'request.completed' < 'request.started'.
    for name, table in tables_of([completed, started]).items():
        clickhouse.client().insert_arrow(name, table)
    trail = reports.lookup(clickhouse.client(), "req-fast")
    assert trail is not None
    assert [e["event_type"] for e in trail["events"]] == ["request.started", "request.completed"]
