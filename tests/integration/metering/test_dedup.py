"""Re-reading the same offsets never changes a report: rows inserted twice count once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.events import LedgerEntryRecorded
from services.metering.adapters import reports
from services.metering.adapters.clickhouse import ClickHouse

from .events import insert_events, request_events
from .rollups import refresh_rollups

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 3, 12, tzinfo=UTC)


def _events() -> list:  # type: ignore[type-arg]
    out: list = []  # type: ignore[type-arg]
    balance = 0
    for i, amount in enumerate([10_000_000_000, -500_000_000]):
        balance += amount
        out.append(
            LedgerEntryRecorded(
                entry_id=f"acc:{i + 1}",
                event_id=f"acc:{i + 1}",
                account_id="acc",
                kind="top_up" if i == 0 else "service_fee",
                amount_nano=amount,
                balance_after_nano=balance,
                cause_event_id="c",
                occurred_at=T0,
            )
        )
    for n in range(5):
        out.extend(request_events(f"r{n}", "acc", T0, prompt=10 + n))
        balance -= 100 + n
        out.append(
            LedgerEntryRecorded(
                entry_id=f"acc:{n + 3}",
                event_id=f"acc:{n + 3}",
                account_id="acc",
                kind="charge",
                amount_nano=-(100 + n),
                balance_after_nano=balance,
                cause_event_id="c",
                request_id=f"r{n}",
                model="m",
                price_version="catalog",
                occurred_at=T0 + timedelta(seconds=1),
            )
        )
    return out


def _all_reports(clickhouse: ClickHouse) -> tuple[object, ...]:
    client = clickhouse.client()
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=1)
    return (
        reports.finance(client, start, end, ["day", "model", "account"]),
        reports.usage(client, "acc", start, end),
        reports.lookup(client, "r3"),
        reports.reconcile(client, start, end),
    )


def test_a_batch_inserted_twice_changes_no_report(
    chdb_folder: Path, clickhouse_database: str
) -> None:
    clickhouse = ClickHouse(f"chdb://{chdb_folder}", clickhouse_database)
    clickhouse.migrate()
    events = _events()
    insert_events(clickhouse.client(), events)
    once = _all_reports(clickhouse)
    insert_events(clickhouse.client(), events)  # the crash after insert, before the offset commit
    insert_events(clickhouse.client(), events[:7])  # and a partial batch read again
    assert _all_reports(clickhouse) == once
    finance = once[0]
    assert finance["totals"]["revenue_nano"] == sum(100 + n for n in range(5))  # type: ignore[index]
    assert finance["prepaid_liability_nano"] == 9_500_000_000 - 510  # type: ignore[index]
    assert once[3] == []  # reconciled


def test_reconcile_finds_a_missing_charge_and_a_ledger_gap(
    chdb_folder: Path, clickhouse_database: str
) -> None:
    clickhouse = ClickHouse(f"chdb://{chdb_folder}", clickhouse_database)
    clickhouse.migrate()
    events = [e for e in _events() if getattr(e, "entry_id", "") != "acc:4"]  # r1's charge lost
    insert_events(clickhouse.client(), events)
    found = reports.reconcile(clickhouse.client(), T0 - timedelta(days=1), T0 + timedelta(days=1))
    kinds = sorted(m["kind"] for m in found)
    assert kinds == ["ledger_gap", "missing_charge"]
    assert next(m for m in found if m["kind"] == "missing_charge")["request_id"] == "r1"


def _refreshed_until(client: Any, expected: tuple[Any, ...], timeout: float = 30) -> None:
    """Refresh until the rollups show ``expected`` (a refresh already running when asked may
    have read its snapshot before the last insert), or fail with what they show."""
    deadline = time.monotonic() + timeout
    while True:
        refresh_rollups(client)
        seen = _rollups(client)
        if seen == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert seen == expected


def _rollups(client: Any) -> tuple[Any, ...]:
    def one(sql: str) -> Any:
        return client.query(sql).result_rows[0]

    return (
        one(
            "SELECT sum(requests), sum(prompt_tokens), sum(completion_tokens) "
            "FROM usage_daily FINAL"
        ),
        one("SELECT sum(requests), sum(prompt_tokens) FROM usage_hourly FINAL"),
        one("SELECT sum(revenue_nano), sum(fees_nano), sum(top_ups_nano) FROM revenue_daily FINAL"),
        one("SELECT sum(revenue_nano) FROM revenue_hourly FINAL"),
    )


def test_rollups_recompute_what_changed_and_count_copies_once(
    chdb_folder: Path, clickhouse_database: str
) -> None:
    clickhouse = ClickHouse(f"chdb://{chdb_folder}", clickhouse_database)
    clickhouse.migrate()
    client = clickhouse.client()
    events = _events()
    insert_events(clickhouse.client(), events)
    insert_events(clickhouse.client(), events)  # the crash after insert, before the offset commit
    prompt = sum(10 + n for n in range(5))
    _refreshed_until(client, ((5, prompt, 25), (5, prompt), (510, 500_000_000, 10**10), (510,)))

    # After that refresh: copies again, and a request for an hour the rollups had already
    # computed (a gateway's spool replayed late). Only the touched buckets are recomputed, exactly.
    late = [e for e in _events() if getattr(e, "request_id", None) == "r0"]
    late = [
        e.model_copy(
            update={"request_id": "r9", "event_id": f"{e.event_id}-late", "entry_id": "acc:9"}
        )
        if isinstance(e, LedgerEntryRecorded)
        else e.model_copy(update={"request_id": "r9", "event_id": f"{e.event_id}-late"})
        for e in late
    ]
    insert_events(clickhouse.client(), events[:7])
    insert_events(clickhouse.client(), late)
    _refreshed_until(
        client, ((6, prompt + 10, 30), (6, prompt + 10), (610, 500_000_000, 10**10), (610,))
    )
    hours = client.query("SELECT count() FROM usage_hourly FINAL").result_rows[0][0]
    assert hours == 1  # one account, one model, one hour: recomputed in place, not added
