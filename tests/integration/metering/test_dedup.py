"""Re-reading the same offsets never changes a report: rows inserted twice count once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.events import LedgerEntryRecorded, RequestCompleted, RequestStarted
from services.metering.adapters.clickhouse import ClickHouse
from services.metering.domain.rows import tables_of
from services.metering.service_layer import reports

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
        common = {
            "request_id": f"r{n}",
            "account_id": "acc",
            "key_id": "k",
            "model": "m",
            "deployment": "d",
            "surface": "openai.chat",
            "stream": False,
        }
        out.append(RequestStarted(**common, prompt_tokens_estimate=10, occurred_at=T0))
        out.append(
            RequestCompleted(
                **common,
                started_at=T0,
                status="succeeded",
                http_status=200,
                prompt_tokens=10 + n,
                completion_tokens=5,
                cache_read_tokens=0,
                cache_write_tokens=0,
                usage_source="upstream",
                latency_ms=3,
                occurred_at=T0 + timedelta(seconds=1),
            )
        )
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


def _insert(clickhouse: ClickHouse, events: list) -> None:  # type: ignore[type-arg]
    for name, table in tables_of(events).items():
        clickhouse.client().insert_arrow(name, table)


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
    _insert(clickhouse, events)
    once = _all_reports(clickhouse)
    _insert(clickhouse, events)  # the crash after insert, before the offset commit
    _insert(clickhouse, events[:7])  # and a partial batch read again
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
    _insert(clickhouse, events)
    found = reports.reconcile(clickhouse.client(), T0 - timedelta(days=1), T0 + timedelta(days=1))
    kinds = sorted(m["kind"] for m in found)
    assert kinds == ["ledger_gap", "missing_charge"]
    assert next(m for m in found if m["kind"] == "missing_charge")["request_id"] == "r1"


def test_rollups_agree_with_the_base_tables_after_a_double_insert(
    chdb_folder: Path, clickhouse_database: str
) -> None:
    clickhouse = ClickHouse(f"chdb://{chdb_folder}", clickhouse_database)
    clickhouse.migrate()
    events = _events()
    _insert(clickhouse, events)
    _insert(clickhouse, events)
    client = clickhouse.client()
    for view in ("usage_hourly", "usage_daily", "revenue_hourly", "revenue_daily"):
        client.command(f"SYSTEM REFRESH VIEW {view}")
        client.command(f"SYSTEM WAIT VIEW {view}")
    usage = client.query(
        "SELECT sum(requests), sum(prompt_tokens), sum(completion_tokens) FROM usage_daily"
    ).result_rows[0]
    assert usage == (5, sum(10 + n for n in range(5)), 25)
    hourly = client.query("SELECT sum(requests) FROM usage_hourly").result_rows[0][0]
    revenue = client.query(
        "SELECT sum(revenue_nano), sum(fees_nano), sum(top_ups_nano) FROM revenue_daily"
    ).result_rows[0]
    assert hourly == 5 and revenue == (510, 500_000_000, 10_000_000_000)
    assert client.query("SELECT sum(revenue_nano) FROM revenue_hourly").result_rows[0][0] == 510
