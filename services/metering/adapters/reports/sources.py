"""Where a report reads a period from: whole days from the daily rollups (migrations 0005,
0007, 0009) and the rest from the event tables (the partial days at the ends of a period,
and every day with rows the rollup may not hold yet).

A refresh recomputes the days with rows ingested since its previous one, less 5 minutes
for inserts in flight; so once a refresh that started at S has succeeded, a day without
rows ingested since S - 5 minutes is whole in the rollup (rows are stamped ingested_at when
inserted). S is the view's last_success_time. Until a refresh succeeds after a (re)start,
or while the rollup is empty, every day counts as not caught up: slower, still exact.

Every read of an event table uses FINAL, so that rows re-inserted after a crash (same
event_id) count once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from ...domain.columns import COSTS, FLOWS, LAST_ENTRY, TOKENS, USAGE
from ...domain.periods import Split
from ._sql import rows, union

__all__ = ["money_source", "stale_days", "usage_source"]

_MARGIN = timedelta(minutes=5)
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)
#: Per event table: its time column and the daily rollup computed from it.
_SOURCES = {
    "request_events": ("started_at", "usage_daily"),
    "ledger_entries": ("occurred_at", "revenue_daily"),
}


def _caught_up(client: Client) -> dict[str, datetime]:
    """Per daily rollup, the time since which ingested rows may be missing from it."""
    rollups = [rollup for _, rollup in _SOURCES.values()]
    counts = ", ".join(f"'{r}_refresh', (SELECT count() FROM {r})" for r in rollups)
    refreshed = {
        row["view"]: datetime.fromtimestamp(row["started"], UTC) - _MARGIN
        for row in rows(
            client,
            f"""
        SELECT view, toUnixTimestamp(last_success_time) AS started,
               map({counts})[view] AS rows
        FROM system.view_refreshes
        WHERE database = currentDatabase() AND last_success_time IS NOT NULL
          AND view IN ({", ".join(f"'{r}_refresh'" for r in rollups)})""",
            {},
        )
        if row["rows"]  # an empty rollup (new, or emptied by a migration) holds nothing
    }
    return {rollup: refreshed.get(f"{rollup}_refresh", _NEVER) for rollup in rollups}


def stale_days(client: Client) -> dict[str, frozenset[date]]:
    """Per event table, the days its rollup may not hold whole yet: those with rows
    ingested since it last caught up. Not narrowed to a period or an account: the skip
    index on ingested_at finds them alone, and narrowing cost more to plan than it saved
    (each split keeps the days of its own period)."""
    caught_up = _caught_up(client)
    found = rows(
        client,
        "\nUNION ALL\n".join(
            f"SELECT '{table}' AS source, toDate({column}) AS day FROM {table} "
            f"WHERE ingested_at >= {{{rollup}:DateTime64(3)}} GROUP BY day"
            for table, (column, rollup) in _SOURCES.items()
        ),
        caught_up,
    )
    return {t: frozenset(r["day"] for r in found if r["source"] == t) for t in _SOURCES}


def _split_sql(
    table: str, split: Split, account_id: str | None
) -> tuple[str | None, str | None, dict[str, Any]]:
    """WHERE clauses for the rollup's ``day`` and the event table (None: nothing to read
    there), and their parameters (named after the table's time column, so that two sources
    can share a query)."""
    column, _ = _SOURCES[table]
    p = column
    params: dict[str, Any] = {
        f"{p}_first_day": split.first_day,
        f"{p}_end_day": split.end_day,
        f"{p}_stale": list(split.stale),
    }
    rollup = (
        f"day >= {{{p}_first_day:Date}} AND day < {{{p}_end_day:Date}} "
        f"AND NOT has({{{p}_stale:Array(Date)}}, day)"
    )
    ranges = []
    for i, (lo, hi) in enumerate(split.ranges):
        ranges.append(
            f"({column} >= {{{p}_lo{i}:DateTime64(3)}} AND {column} < {{{p}_hi{i}:DateTime64(3)}})"
        )
        params |= {f"{p}_lo{i}": lo, f"{p}_hi{i}": hi}
    events = f"({' OR '.join(ranges)})"
    if account_id is not None:
        params["acc"] = account_id
        rollup += " AND account_id = {acc:String}"
        events += " AND account_id = {acc:String}"
    return (
        rollup if split.first_day < split.end_day else None,
        events if ranges else None,
        params,
    )


def _rollup(
    table: str, columns: tuple[str, ...], where: str | None, one_account: bool
) -> str | None:
    """The newest computation of each bucket of ``table``: FINAL, or for one account (a few
    dozen rows) the newest by computed_at, which is several times cheaper than FINAL there."""
    if where is None:
        return None
    if one_account:
        newest = ", ".join(f"argMax({c}, computed_at) AS {c}" for c in columns)
        return (
            f"SELECT day, account_id, model, {newest} FROM {table} WHERE {where} "
            "GROUP BY account_id, model, day"
        )
    return f"SELECT day, account_id, model, {', '.join(columns)} FROM {table} FINAL WHERE {where}"


def usage_source(split: Split, account_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """Completed requests of a period, one row per day x account x model or per request:
    ``USAGE`` columns."""
    rollup, events, params = _split_sql("request_events", split, account_id)
    return (
        union(
            _rollup("usage_daily", USAGE, rollup, account_id is not None),
            events
            and f"""
        SELECT toDate(started_at) AS day, account_id, model, toUInt64(1) AS requests,
               {", ".join(TOKENS)}
        FROM request_events FINAL WHERE event_type = 'request.completed' AND {events}""",
        ),
        params,
    )


#: A ledger entry's part in each flow (``FLOWS``), as the rollup sums it (migration 0009).
_ENTRY_FLOWS = {
    "revenue_nano": "if(kind = 'charge', -amount_nano, 0)",
    "fees_nano": "if(kind = 'service_fee', -amount_nano, 0)",
    "top_ups_nano": "if(kind = 'top_up', amount_nano, 0)",
    "refunds_nano": "if(kind = 'refund', amount_nano, 0)",
    "adjustments_nano": "if(kind = 'adjustment', amount_nano, 0)",
} | {cost: f"if(kind = 'charge', {cost}, 0)" for cost in COSTS}


def money_source(split: Split, account_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """Ledger movements of a period (``FLOWS``) and each account's last entry
    (``LAST_ENTRY``), as ``usage_source``."""
    rollup, events, params = _split_sql("ledger_entries", split, account_id)
    flows = ",\n               ".join(f"{_ENTRY_FLOWS[name]} AS {name}" for name in FLOWS)
    return (
        union(
            _rollup("revenue_daily", FLOWS + LAST_ENTRY, rollup, account_id is not None),
            events
            and f"""
        SELECT toDate(occurred_at) AS day, account_id, model,
               {flows},
               entry_seq AS last_entry_seq, balance_after_nano AS last_balance_nano
        FROM ledger_entries FINAL WHERE {events}""",
        ),
        params,
    )
