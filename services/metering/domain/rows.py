"""Events to ClickHouse columns: pure, one Arrow table per ClickHouse table.

Columnar because the sink's speed is decided here: building Arrow columns and
inserting them with ``insert_arrow`` costs a few microseconds per event, where
building Python rows and inserting those cost about four times more.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import pyarrow as pa

from schemas.events import (
    Event,
    LedgerEntryRecorded,
    RequestCompleted,
    RequestStarted,
    decode_event,
)

from .columns import COSTS, TOKENS

__all__ = [
    "LEDGER_SCHEMA",
    "REQUEST_SCHEMA",
    "DecodedBatch",
    "decode_batch",
    "ledger_table",
    "request_table",
    "tables_of",
]

_TIME = pa.timestamp("us", tz="UTC")  # ClickHouse keeps milliseconds (DateTime64(3, 'UTC'))

REQUEST_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("occurred_at", _TIME),
        ("request_id", pa.string()),
        ("account_id", pa.string()),
        ("key_id", pa.string()),
        ("model", pa.string()),
        ("deployment", pa.string()),
        ("surface", pa.string()),
        ("stream", pa.bool_()),
        ("max_tokens", pa.uint32()),
        ("prompt_tokens_estimate", pa.uint32()),
        ("started_at", _TIME),
        ("status", pa.string()),
        ("http_status", pa.uint16()),
        ("error_code", pa.string()),
        ("finish_reason", pa.string()),
        *[(name, pa.uint64()) for name in TOKENS],
        ("usage_source", pa.string()),
        ("ttft_ms", pa.float64()),
        ("latency_ms", pa.float64()),
    ]
)

LEDGER_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("entry_id", pa.string()),
        ("occurred_at", _TIME),
        ("account_id", pa.string()),
        ("kind", pa.string()),
        ("amount_nano", pa.int64()),
        ("balance_after_nano", pa.int64()),
        ("cause_event_id", pa.string()),
        ("request_id", pa.string()),
        ("idempotency_key", pa.string()),
        ("reason", pa.string()),
        ("actor", pa.string()),
        ("model", pa.string()),
        ("price_version", pa.string()),
        *[(name, pa.int64()) for name in COSTS],
    ]
)


def _each(events: Sequence[Any], names: tuple[str, ...]) -> dict[str, list[Any]]:
    """The ``names`` attributes of ``events``, one column each, named as the attribute."""
    return {name: list(map(attrgetter(name), events)) for name in names}


def _shared(events: Sequence[RequestStarted | RequestCompleted]) -> dict[str, list[Any]]:
    return {
        "event_id": [e.event_id for e in events],
        "event_type": [e.TYPE for e in events],
        "occurred_at": [e.occurred_at for e in events],
        "request_id": [e.request_id for e in events],
        "account_id": [e.account_id for e in events],
        "key_id": [e.key_id for e in events],
        "model": [e.model for e in events],
        "deployment": [e.deployment for e in events],
        "surface": [e.surface for e in events],
        "stream": [e.stream for e in events],
    }


def _started(events: Sequence[RequestStarted]) -> dict[str, list[Any]]:
    n = len(events)
    return {
        **_shared(events),
        "max_tokens": [e.max_tokens for e in events],
        "prompt_tokens_estimate": [e.prompt_tokens_estimate for e in events],
        "started_at": [e.occurred_at for e in events],
        "status": [""] * n,
        "http_status": [0] * n,
        "error_code": [""] * n,
        "finish_reason": [""] * n,
        **{name: [0] * n for name in TOKENS},
        "usage_source": [""] * n,
        "ttft_ms": [None] * n,
        "latency_ms": [0.0] * n,
    }


def _completed(events: Sequence[RequestCompleted]) -> dict[str, list[Any]]:
    n = len(events)
    return {
        **_shared(events),
        "max_tokens": [None] * n,
        "prompt_tokens_estimate": [0] * n,
        "started_at": [e.started_at for e in events],
        "status": [e.status for e in events],
        "http_status": [e.http_status for e in events],
        "error_code": [e.error_code or "" for e in events],
        "finish_reason": [e.finish_reason or "" for e in events],
        **_each(events, TOKENS),
        "usage_source": [e.usage_source for e in events],
        "ttft_ms": [e.ttft_ms for e in events],
        "latency_ms": [e.latency_ms for e in events],
    }


def _table(columns: dict[str, list[Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pydict(columns, schema=schema)


def request_table(
    started: Sequence[RequestStarted], completed: Sequence[RequestCompleted]
) -> pa.Table:
    return pa.concat_tables(
        [
            _table(_started(started), REQUEST_SCHEMA),
            _table(_completed(completed), REQUEST_SCHEMA),
        ]
    )


def ledger_table(events: Sequence[LedgerEntryRecorded]) -> pa.Table:
    return _table(
        {
            "event_id": [e.event_id for e in events],
            "entry_id": [e.entry_id for e in events],
            "occurred_at": [e.occurred_at for e in events],
            "account_id": [e.account_id for e in events],
            "kind": [e.kind for e in events],
            "amount_nano": [e.amount_nano for e in events],
            "balance_after_nano": [e.balance_after_nano for e in events],
            "cause_event_id": [e.cause_event_id for e in events],
            "request_id": [e.request_id or "" for e in events],
            "idempotency_key": [e.idempotency_key or "" for e in events],
            "reason": [e.reason or "" for e in events],
            "actor": [e.actor or "" for e in events],
            "model": [e.model or "" for e in events],
            "price_version": [e.price_version or "" for e in events],
            **_each(events, COSTS),
        },
        LEDGER_SCHEMA,
    )


def tables_of(events: Iterable[Event]) -> dict[str, pa.Table]:
    """ClickHouse table name -> the rows ``events`` add to it; tables with no rows left out.

    Events that are not stored (account and key records) are skipped.
    """
    started: list[RequestStarted] = []
    completed: list[RequestCompleted] = []
    ledger: list[LedgerEntryRecorded] = []
    for event in events:
        if isinstance(event, RequestStarted):
            started.append(event)
        elif isinstance(event, RequestCompleted):
            completed.append(event)
        elif isinstance(event, LedgerEntryRecorded):
            ledger.append(event)
    out = {}
    if started or completed:
        out["request_events"] = request_table(started, completed)
    if ledger:
        out["ledger_entries"] = ledger_table(ledger)
    return out


@dataclass(frozen=True)
class DecodedBatch:
    """What a batch of Kafka values adds to ClickHouse, and the values that are not events."""

    tables: dict[str, pa.Table]
    #: (index of the value in the batch, why it was refused)
    rejected: list[tuple[int, str]]

    @property
    def rows(self) -> int:
        return sum(table.num_rows for table in self.tables.values())

    @classmethod
    def concat(cls, parts: Sequence[DecodedBatch]) -> DecodedBatch:
        """One batch of several decoded in turn (the tables' chunks are not copied)."""
        names = dict.fromkeys(name for part in parts for name in part.tables)
        return cls(
            {
                name: pa.concat_tables([p.tables[name] for p in parts if name in p.tables])
                for name in names
            },
            [refused for part in parts for refused in part.rejected],
        )


def decode_batch(values: Sequence[bytes | None], first_index: int = 0) -> DecodedBatch:
    """Decode and validate Kafka values into Arrow tables; refuse what is not a known event.

    Refusals name the value by ``first_index`` + its position in ``values``.
    """
    events: list[tuple[int, Event]] = []
    rejected: list[tuple[int, str]] = []
    for index, value in enumerate(values, start=first_index):
        if value is None:
            rejected.append((index, "empty value (a tombstone) on an event topic"))
            continue
        try:
            events.append((index, decode_event(value)))
        except ValueError as exc:
            rejected.append((index, str(exc)[:500]))
    try:
        tables = tables_of(e for _, e in events)
    except (ValueError, TypeError, OverflowError, pa.ArrowException):
        # The schemas bound every value the columns hold, so this means an event schema and
        # a column disagree: find the events at fault one by one rather than fail the batch.
        kept = []
        for index, event in events:
            try:
                tables_of([event])
                kept.append(event)
            except (ValueError, TypeError, OverflowError, pa.ArrowException) as exc:
                rejected.append((index, f"does not fit its columns: {exc}"[:500]))
        tables = tables_of(kept)
    return DecodedBatch(tables, rejected)
