"""The finance report reads whole days from the rollups and the rest from the event tables;
whatever the rollups hold at the time, it must equal the same report computed from the events.

A week of requests and ledger entries for three accounts and two models is inserted as
ingested when it happened, the rollups are brought up to date, then a day's worth of one
account's events arrives late (a gateway's spool replayed). The report is compared with a
reference computed here, in Python, from the events themselves: before the late events,
right after them (the rollups have not caught up), and after the next refresh.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.events import Event, LedgerEntryRecorded, RequestCompleted
from services.metering.adapters import reports
from services.metering.adapters.clickhouse import ClickHouse

from .events import ACCOUNTS, DAY0, insert_events, week_of_history
from .rollups import refresh_rollups

pytestmark = pytest.mark.integration
LATE_DAY = DAY0 + timedelta(days=2)
LATE_ACCOUNT = "acc_b"


def _is_late(event: Event) -> bool:
    at = event.started_at if isinstance(event, RequestCompleted) else event.occurred_at
    return getattr(
        event, "account_id", None
    ) == LATE_ACCOUNT and LATE_DAY <= at < LATE_DAY + timedelta(days=1)


# -- the reference, from the events ---------------------------------------------------------------

#: Revenue by token kind, as charges record it.
COSTS = ("input_cost_nano", "output_cost_nano", "cache_read_cost_nano", "cache_write_cost_nano")

PERIOD: dict[str, Callable[[date], date]] = {
    "day": lambda d: d,
    "week": lambda d: d - timedelta(days=d.weekday()),
    "month": lambda d: d.replace(day=1),
}


def _expected(
    events: list[Event], start: datetime, end: datetime, group_by: list[str]
) -> dict[str, Any]:
    def key(day: date, model: str, account: str) -> tuple[Any, ...]:
        out: list[Any] = []
        for g in group_by:
            out.append(PERIOD[g](day) if g in PERIOD else model if g == "model" else account)
        return tuple(out)

    names = ["period" if g in PERIOD else "account_id" if g == "account" else g for g in group_by]
    rows: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    top: dict[tuple[str, str], int] = defaultdict(int)
    last: dict[str, tuple[int, int]] = {}
    for e in events:
        if isinstance(e, RequestCompleted) and start <= e.started_at < end:
            row = rows[key(e.started_at.date(), e.model, e.account_id)]
            row["requests"] += 1
            for k in (
                "prompt_tokens",
                "completion_tokens",
                "cache_read_tokens",
                "cache_write_tokens",
            ):
                row[k] += getattr(e, k)
        if not isinstance(e, LedgerEntryRecorded):
            continue
        if e.occurred_at < end:
            seq = int(e.entry_id.rsplit(":", 1)[1])
            if seq > last.get(e.account_id, (0, 0))[0]:
                last[e.account_id] = (seq, e.balance_after_nano)
        if start <= e.occurred_at < end:
            row = rows[key(e.occurred_at.date(), e.model or "", e.account_id)]
            column = {
                "charge": "revenue_nano",
                "service_fee": "fees_nano",
                "top_up": "top_ups_nano",
                "refund": "refunds_nano",
                "adjustment": "adjustments_nano",
            }[e.kind]
            row[column] += -e.amount_nano if e.kind in ("charge", "service_fee") else e.amount_nano
            if e.kind == "charge":
                top[(e.account_id, e.model or "")] += -e.amount_nano
                for cost in COSTS:
                    row[cost] += getattr(e, cost)
    columns = (
        "requests",
        "prompt_tokens",
        "completion_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "revenue_nano",
        "fees_nano",
        "top_ups_nano",
        "refunds_nano",
        "adjustments_nano",
        *COSTS,
    )
    if not group_by:  # one row of totals, zeros included
        rows[()]
    out_rows = [
        {n: (v.isoformat() if isinstance(v, date) else v) for n, v in zip(names, k, strict=True)}
        | {c: rows[k][c] for c in columns}
        for k in sorted(rows, key=lambda k: [str(x) for x in k])
    ]
    ranked = sorted(top.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    return {
        "rows": out_rows,
        "prepaid_liability_nano": sum(balance for _, balance in last.values()),
        "top": [{"account_id": a, "model": m, "revenue_nano": v} for (a, m), v in ranked if v],
    }


PERIODS = [
    (DAY0, DAY0 + timedelta(days=7), ["day", "model", "account"]),  # whole days only
    (
        DAY0 + timedelta(hours=6),
        DAY0 + timedelta(days=5, hours=12),
        ["day", "model"],
    ),  # partial ends
    (LATE_DAY + timedelta(hours=2), LATE_DAY + timedelta(hours=20), ["account"]),  # inside a day
    (DAY0 - timedelta(days=3), DAY0 + timedelta(days=10), ["week", "account"]),
    (DAY0, DAY0 + timedelta(days=30), ["month"]),
    (DAY0 + timedelta(days=1), DAY0 + timedelta(days=4), []),
]


def _check(client: Any, events: list[Event]) -> None:
    """The finance report for every period, and each account's usage (``GET /v1/usage``)."""
    for start, end, group_by in PERIODS:
        report = reports.finance(client, start, end, group_by)
        got = {k: report[k] for k in ("rows", "prepaid_liability_nano", "top")}
        assert got == _expected(events, start, end, group_by), (start, end, group_by)
    for start, end, _ in PERIODS[:3]:
        for account in ACCOUNTS:
            mine = [e for e in events if getattr(e, "account_id", None) == account]
            expected = [
                {
                    "day": row["period"],
                    "model": row["model"],
                    "requests": row["requests"],
                    "prompt_tokens": row["prompt_tokens"],
                    "completion_tokens": row["completion_tokens"],
                    "cache_read_tokens": row["cache_read_tokens"],
                    "cache_write_tokens": row["cache_write_tokens"],
                    "cost_nano": row["revenue_nano"],
                }
                for row in _expected(mine, start, end, ["day", "model"])["rows"]
                if row["requests"]
            ]
            got = [
                {k: v for k, v in row.items() if k != "cost"}
                for row in reports.usage(client, account, start, end)
            ]
            assert got == expected, (account, start, end)


def test_finance_equals_the_events_whatever_the_rollups_hold(
    chdb_folder: Path, clickhouse_database: str
) -> None:
    clickhouse = ClickHouse(f"chdb://{chdb_folder}", clickhouse_database)
    clickhouse.migrate()
    client = clickhouse.client()
    history = week_of_history()
    on_time = [e for e in history if not _is_late(e)]
    late = [e for e in history if _is_late(e)]
    assert len(late) == 3 * 3  # three requests: started, completed, charge

    _check(client, [])  # nothing yet: empty rollups, every day read from the events
    insert_events(client, on_time, ingested_then=True)
    _check(client, on_time)  # the rollups may be empty or partly refreshed: still exact
    refresh_rollups(client)
    # Caught up: whole days come from the rollups alone (the point of them).
    nothing = frozenset[date]()
    assert reports.stale_days(client) == {"request_events": nothing, "ledger_entries": nothing}
    _check(client, on_time)

    insert_events(client, late)  # a day the rollups had already computed
    late_days = frozenset({LATE_DAY.date()})
    assert reports.stale_days(client) == {
        "request_events": late_days,
        "ledger_entries": late_days,
    }
    _check(client, history)
    refresh_rollups(client)  # recomputes that day; it stays read from the events for 5 minutes
    _check(client, history)
