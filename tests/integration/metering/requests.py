"""A request as the gateway writes it, for tests that put events straight into ClickHouse."""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas.events import RequestCompleted, RequestStarted

__all__ = ["request_events"]


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
