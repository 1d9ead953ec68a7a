"""The metering sink's decode step: Kafka values to Arrow tables, refusals named by position."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.events import (
    AccountStatusChanged,
    Event,
    LedgerEntryRecorded,
    RequestCompleted,
    RequestStarted,
    encode_event,
)
from services.metering.domain.rows import DecodedBatch, decode_batch

T0 = datetime(2026, 11, 3, 12, 0, 0, 123000, tzinfo=UTC)
COMMON = {
    "account_id": "acc",
    "key_id": "k",
    "model": "m",
    "deployment": "d",
    "surface": "openai.chat",
    "stream": True,
}


def _values() -> list[bytes | None]:
    events: list[Event] = []
    for n in range(7):
        events.append(
            RequestStarted(request_id=f"r{n}", **COMMON, prompt_tokens_estimate=9, occurred_at=T0)
        )
        events.append(
            RequestCompleted(
                request_id=f"r{n}",
                **COMMON,
                started_at=T0,
                status="succeeded",
                http_status=200,
                prompt_tokens=100 + n,
                completion_tokens=5,
                cache_read_tokens=40,
                cache_write_tokens=0,
                usage_source="upstream",
                ttft_ms=12.5,
                latency_ms=30.0,
                occurred_at=T0 + timedelta(seconds=1),
            )
        )
    events.append(
        LedgerEntryRecorded(
            entry_id="acc:1",
            event_id="acc:1",
            account_id="acc",
            kind="top_up",
            amount_nano=10**10,
            balance_after_nano=10**10,
            cause_event_id="c",
            occurred_at=T0,
        )
    )
    events.append(  # on a metering topic by mistake: not stored, not refused
        AccountStatusChanged(
            account_id="acc",
            name="a",
            status="active",
            sequence=1,
            balance_nano=0,
            held_nano=0,
            available_nano=0,
            month_tokens=0,
        )
    )
    values: list[bytes | None] = [encode_event(e)[0] for e in events]
    values.insert(3, b"{not json")
    values.insert(9, None)
    values.insert(12, b'{"type": "request.completed", "v": 1, "request_id": "x"}')
    return values


def test_slices_concatenated_equal_one_decode() -> None:
    values = _values()
    whole = decode_batch(values)
    parts = [decode_batch(values[i : i + 4], first_index=i) for i in range(0, len(values), 4)]
    sliced = DecodedBatch.concat(parts)

    assert sliced.rejected == whole.rejected
    assert set(sliced.tables) == set(whole.tables) == {"request_events", "ledger_entries"}
    for name, table in whole.tables.items():
        assert sliced.tables[name].sort_by("event_id").equals(table.sort_by("event_id"))
    assert sliced.rows == whole.rows == 15


def test_refusals_name_the_record_and_why() -> None:
    rejected = dict(decode_batch(_values()).rejected)
    assert sorted(rejected) == [3, 9, 12]
    assert "tombstone" in rejected[9]
    assert all(reason for reason in rejected.values())
    assert all(len(reason) <= 500 for reason in rejected.values())


def test_columns_keep_tokens_times_and_money() -> None:
    tables = decode_batch(_values()).tables
    completed = [
        row
        for row in tables["request_events"].to_pylist()
        if row["event_type"] == "request.completed"
    ]
    assert sorted(r["prompt_tokens"] for r in completed) == [100 + n for n in range(7)]
    assert {r["cache_read_tokens"] for r in completed} == {40}
    assert {r["ttft_ms"] for r in completed} == {12.5}
    assert {r["started_at"] for r in completed} == {T0}
    started = [
        r for r in tables["request_events"].to_pylist() if r["event_type"] == "request.started"
    ]
    assert {r["ttft_ms"] for r in started} == {None}
    assert {r["prompt_tokens_estimate"] for r in started} == {9}
    (entry,) = tables["ledger_entries"].to_pylist()
    assert entry["amount_nano"] == 10**10
    assert entry["occurred_at"] == T0


def test_an_empty_batch_has_no_tables() -> None:
    assert decode_batch([]).tables == {}
    assert DecodedBatch.concat([]).rows == 0
