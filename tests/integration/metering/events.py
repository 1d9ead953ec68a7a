"""Events as the gateway and billing write them, put straight into ClickHouse by tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from clickhouse_connect.driver.client import Client

from schemas.events import Event, RequestCompleted, RequestStarted
from services.metering.domain.rows import tables_of

__all__ = ["insert_events", "request_events"]


def insert_events(client: Client, events: Sequence[Event], *, ingested_then: bool = False) -> None:
    """Write ``events`` as the sink does (Arrow, one insert per table). ``ingested_then``:
    stamp rows as ingested when they happened (history), not now."""
    for name, table in tables_of(events).items():
        if ingested_then:
            table = table.append_column("ingested_at", table["occurred_at"])
        client.insert_arrow(name, table)


def request_events(
    request_id: str,
    account_id: str,
    at: datetime,
    *,
    took: timedelta = timedelta(seconds=1),
    model: str = "m",
    estimate: int = 10,
    prompt: int = 10,
    completion: int = 5,
    cache_read: int = 0,
) -> tuple[RequestStarted, RequestCompleted]:
    """``request.started`` at ``at`` and a successful ``request.completed`` ``took`` later."""
    common = {
        "request_id": request_id,
        "account_id": account_id,
        "key_id": f"key-{account_id}",
        "model": model,
        "deployment": "d",
        "surface": "openai.chat",
        "stream": False,
    }
    return (
        RequestStarted(**common, prompt_tokens_estimate=estimate, occurred_at=at),
        RequestCompleted(
            **common,
            started_at=at,
            status="succeeded",
            http_status=200,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cache_read_tokens=cache_read,
            cache_write_tokens=0,
            usage_source="upstream",
            latency_ms=took.total_seconds() * 1000,
            occurred_at=at + took,
        ),
    )
