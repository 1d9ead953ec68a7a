"""Events to ClickHouse rows: pure, one function per table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.events import Event, LedgerEntryRecorded, RequestCompleted, RequestStarted

__all__ = ["LEDGER_COLUMNS", "REQUEST_COLUMNS", "ledger_row", "request_row"]

REQUEST_COLUMNS = [
    "event_id",
    "event_type",
    "occurred_at",
    "request_id",
    "account_id",
    "key_id",
    "model",
    "deployment",
    "surface",
    "stream",
    "max_tokens",
    "prompt_tokens_estimate",
    "started_at",
    "status",
    "http_status",
    "error_code",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "usage_source",
    "ttft_ms",
    "latency_ms",
]

LEDGER_COLUMNS = [
    "event_id",
    "entry_id",
    "occurred_at",
    "account_id",
    "kind",
    "amount_nano",
    "balance_after_nano",
    "cause_event_id",
    "request_id",
    "idempotency_key",
    "reason",
    "model",
    "price_version",
    "input_cost_nano",
    "output_cost_nano",
    "cache_read_cost_nano",
    "cache_write_cost_nano",
]


def _naive_utc(when: datetime) -> datetime:
    """ClickHouse DateTime64('UTC') columns take naive UTC datetimes."""
    return when.astimezone(UTC).replace(tzinfo=None)


def request_row(event: RequestStarted | RequestCompleted) -> list[Any]:
    started = event.occurred_at if isinstance(event, RequestStarted) else event.started_at
    common = [
        event.event_id,
        event.TYPE,
        _naive_utc(event.occurred_at),
        event.request_id,
        event.account_id,
        event.key_id,
        event.model,
        event.deployment,
        event.surface,
        event.stream,
    ]
    if isinstance(event, RequestStarted):
        return [
            *common,
            event.max_tokens,
            event.prompt_tokens_estimate,
            _naive_utc(started),
            "",
            0,
            "",
            "",
            0,
            0,
            0,
            0,
            "",
            None,
            0.0,
        ]
    return [
        *common,
        None,
        0,
        _naive_utc(started),
        event.status,
        event.http_status,
        event.error_code or "",
        event.finish_reason or "",
        event.prompt_tokens,
        event.completion_tokens,
        event.cache_read_tokens,
        event.cache_write_tokens,
        event.usage_source,
        event.ttft_ms,
        event.latency_ms,
    ]


def ledger_row(e: LedgerEntryRecorded) -> list[Any]:
    return [
        e.event_id,
        e.entry_id,
        _naive_utc(e.occurred_at),
        e.account_id,
        e.kind,
        e.amount_nano,
        e.balance_after_nano,
        e.cause_event_id,
        e.request_id or "",
        e.idempotency_key or "",
        e.reason or "",
        e.model or "",
        e.price_version or "",
        e.input_cost_nano,
        e.output_cost_nano,
        e.cache_read_cost_nano,
        e.cache_write_cost_nano,
    ]


def rows_of(events: list[Event]) -> tuple[list[list[Any]], list[list[Any]]]:
    requests, ledger = [], []
    for event in events:
        if isinstance(event, RequestStarted | RequestCompleted):
            requests.append(request_row(event))
        elif isinstance(event, LedgerEntryRecorded):
            ledger.append(ledger_row(event))
    return requests, ledger
