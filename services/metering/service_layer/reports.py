"""Finance, support and reconciliation, as ClickHouse SQL over the event tables.

Every read uses FINAL so that rows re-inserted after a crash (same event_id)
count once. Periods are half-open: ``from <= t < to``, UTC.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.money import format_usd

__all__ = [
    "GROUPS",
    "ReportError",
    "Split",
    "finance",
    "lookup",
    "reconcile",
    "split_period",
    "stale_days",
    "usage",
]

#: Report periods over a source's ``day`` column.
PERIODS = {"day": "day", "week": "toMonday(day)", "month": "toStartOfMonth(day)"}
GROUPS = {"day", "week", "month", "model", "account"}


class ReportError(ValueError):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def _rows(client: Client, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    result = client.query(sql, parameters=params)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def _iso(value: Any) -> Any:
    return (
        value.isoformat() + ("Z" if isinstance(value, datetime) and value.tzinfo is None else "")
        if hasattr(value, "isoformat")
        else value
    )


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _iso(v) for k, v in row.items()}


# -- support -------------------------------------------------------------------------------------


def _unique(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Rows with distinct ``key``, first kept: the lookup reads without FINAL."""
    seen: set[Any] = set()
    unique = []
    for row in rows:
        if row[key] not in seen:
            seen.add(row[key])
            unique.append(row)
    return unique


def lookup(client: Client, request_id: str) -> dict[str, Any] | None:
    # No FINAL: it would bypass the by_request_id projection (migration 0004); the
    # handful of rows one request has are deduplicated here instead.
    events = _unique(
        _rows(
            client,
            """
        SELECT event_type, event_id, occurred_at, account_id, key_id, model, deployment, surface,
               stream, max_tokens, prompt_tokens_estimate, started_at, status, http_status,
               error_code, finish_reason, prompt_tokens, completion_tokens, cache_read_tokens,
               cache_write_tokens, usage_source, ttft_ms, latency_ms
        FROM request_events WHERE request_id = {rid:String}
        ORDER BY occurred_at, event_type = 'request.completed'""",
            {"rid": request_id},
        ),
        "event_id",
    )
    if not events:
        return None
    ledger = _unique(
        _rows(
            client,
            """
        SELECT entry_id, occurred_at, kind, amount_nano, balance_after_nano, model, price_version,
               input_cost_nano, output_cost_nano, cache_read_cost_nano, cache_write_cost_nano
        FROM ledger_entries WHERE request_id = {rid:String} ORDER BY occurred_at""",
            {"rid": request_id},
        ),
        "entry_id",
    )
    started = next((e for e in events if e["event_type"] == "request.started"), None)
    completed = next((e for e in events if e["event_type"] == "request.completed"), None)
    charge = ledger[0] if ledger else None
    summary: dict[str, Any] = {
        "request_id": request_id,
        "account_id": events[0]["account_id"],
        "key_id": events[0]["key_id"],
        "model": events[0]["model"],
        "deployment": (completed or started or {}).get("deployment"),
        "state": "completed" if completed else "started, never completed",
        "status": completed["status"] if completed else None,
        "http_status": completed["http_status"] if completed else None,
        "error_code": (completed or {}).get("error_code") or None,
        "tokens": None
        if not completed
        else {
            k: completed[k]
            for k in (
                "prompt_tokens",
                "completion_tokens",
                "cache_read_tokens",
                "cache_write_tokens",
            )
        }
        | {"usage_source": completed["usage_source"]},
        "latency_ms": (completed or {}).get("latency_ms"),
        "ttft_ms": (completed or {}).get("ttft_ms"),
        "charge": None
        if charge is None
        else {
            "cost": format_usd(-charge["amount_nano"]),
            "cost_nano": -charge["amount_nano"],
            "price_version": charge["price_version"],
            "breakdown_nano": {
                k.removesuffix("_cost_nano"): charge[k]
                for k in (
                    "input_cost_nano",
                    "output_cost_nano",
                    "cache_read_cost_nano",
                    "cache_write_cost_nano",
                )
            },
            "balance_after": format_usd(charge["balance_after_nano"]),
            "balance_after_nano": charge["balance_after_nano"],
            "made_balance_run_out": charge["balance_after_nano"]
            <= 0
            < charge["balance_after_nano"] - charge["amount_nano"],
        },
    }
    return summary | {"events": [_clean(e) for e in events], "ledger": [_clean(e) for e in ledger]}


# -- usage and finance ---------------------------------------------------------------------------


def usage(client: Client, account_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """One account's completed requests, tokens and cost by day and model (the rollups for
    whole days caught up, the event tables for the rest, as the finance report)."""
    stale = stale_days(client)
    usage_sql, usage_params = _usage_source(
        split_period(start, end, stale["request_events"]), account_id
    )
    money_sql, money_params = _money_source(
        split_period(start, end, stale["ledger_entries"]), account_id
    )
    rows = _rows(
        client,
        f"""
        SELECT day, model, sum(requests) AS requests, sum(prompt_tokens) AS prompt_tokens,
               sum(completion_tokens) AS completion_tokens,
               sum(cache_read_tokens) AS cache_read_tokens, sum(cost) AS cost_nano
        FROM (SELECT day, model, requests, prompt_tokens, completion_tokens, cache_read_tokens,
                     toInt64(0) AS cost FROM ({usage_sql})
              UNION ALL
              SELECT day, model, 0, 0, 0, 0, revenue_nano FROM ({money_sql}))
        GROUP BY day, model HAVING requests > 0 ORDER BY day, model""",
        usage_params | money_params,
    )
    return [_clean(r) | {"cost": format_usd(int(r["cost_nano"]))} for r in rows]


def _group_sql(group_by: list[str]) -> tuple[list[str], list[str]]:
    unknown = [g for g in group_by if g not in GROUPS]
    periods = [g for g in group_by if g in PERIODS]
    if unknown or len(periods) > 1:
        raise ReportError(
            f"group_by takes at most one of day, week, month, plus model and "
            f"account; got {','.join(group_by)}",
            "group_by",
        )
    exprs, names = [], []
    for g in group_by:
        if g in PERIODS:
            exprs.append(PERIODS[g] + " AS period")
            names.append("period")
        elif g == "model":
            exprs.append("model")
            names.append("model")
        else:
            exprs.append("account_id")
            names.append("account_id")
    return exprs, names


def _select(exprs: list[str]) -> str:
    return ", ".join(exprs) + ", " if exprs else ""


# Finance and usage read whole days from the daily rollups (migrations 0005, 0007) and the
# rest from the event tables: the partial days at the ends of a period, and every day with
# rows the rollup may not hold yet. A refresh recomputes the days with rows ingested since
# its previous one, less 5 minutes for inserts in flight; so once a refresh that started at
# S has succeeded, a day without rows ingested since S - 5 minutes is whole in the rollup
# (rows are stamped ingested_at when inserted). S is the view's last_success_time. Until a
# refresh succeeds after a (re)start, or while the rollup is empty, every day counts as not
# caught up: slower, still exact.
_MARGIN = timedelta(minutes=5)
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)
#: Per event table: its time column and the daily rollup computed from it.
_SOURCES = {
    "request_events": ("started_at", "usage_daily"),
    "ledger_entries": ("occurred_at", "revenue_daily"),
}


@dataclass(frozen=True)
class Split:
    """How a period ``[start, end)`` is read: days ``first_day <= day < end_day`` not in
    ``stale`` from a rollup, and ``ranges`` (half-open, merged) from the event table."""

    first_day: date
    end_day: date
    stale: tuple[date, ...]
    ranges: tuple[tuple[datetime, datetime], ...]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def split_period(start: datetime | None, end: datetime, stale: frozenset[date]) -> Split:
    """``start`` None means since the beginning (the prepaid liability)."""
    end_day = end.astimezone(UTC).date()
    if start is None:
        first_day = date.min
    else:
        first_day = start.astimezone(UTC).date()
        if start > _midnight(first_day):
            first_day += timedelta(days=1)
    ranges: list[tuple[datetime, datetime]] = []

    def read(lo: datetime, hi: datetime) -> None:
        if lo >= hi:
            return
        if ranges and ranges[-1][1] >= lo:
            ranges[-1] = (ranges[-1][0], max(hi, ranges[-1][1]))
        else:
            ranges.append((lo, hi))

    if start is not None and first_day >= end_day:  # no whole day: all from the events
        read(start, end)
        return Split(end_day, end_day, (), tuple(ranges))
    if start is not None:
        read(start, _midnight(first_day))
    days = sorted(d for d in stale if first_day <= d < end_day)
    for day in days:
        read(_midnight(day), _midnight(day + timedelta(days=1)))
    read(_midnight(end_day), end)
    return Split(first_day, end_day, tuple(days), tuple(ranges))


def _caught_up(client: Client) -> dict[str, datetime]:
    """Per daily rollup, the time since which ingested rows may be missing from it."""
    rollups = [rollup for _, rollup in _SOURCES.values()]
    rows = ", ".join(f"'{r}_refresh', (SELECT count() FROM {r})" for r in rollups)
    refreshed = {
        row["view"]: datetime.fromtimestamp(row["started"], UTC) - _MARGIN
        for row in _rows(
            client,
            f"""
        SELECT view, toUnixTimestamp(last_success_time) AS started,
               map({rows})[view] AS rows
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
    rows = _rows(
        client,
        "\nUNION ALL\n".join(
            f"SELECT '{table}' AS source, toDate({column}) AS day FROM {table} "
            f"WHERE ingested_at >= {{{rollup}:DateTime64(3)}} GROUP BY day"
            for table, (column, rollup) in _SOURCES.items()
        ),
        caught_up,
    )
    return {t: frozenset(r["day"] for r in rows if r["source"] == t) for t in _SOURCES}


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


def _union(*selects: str | None) -> str:
    return "\nUNION ALL\n".join(s for s in selects if s)


def _rollup(table: str, columns: list[str], where: str | None, one_account: bool) -> str | None:
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


_USAGE = [
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
]
_MONEY = [
    "revenue_nano",
    "fees_nano",
    "top_ups_nano",
    "refunds_nano",
    "adjustments_nano",
    "last_entry_seq",
    "last_balance_nano",
]


def _usage_source(split: Split, account_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """Completed requests of a period, one row per day x account x model or per request."""
    rollup, events, params = _split_sql("request_events", split, account_id)
    return (
        _union(
            _rollup("usage_daily", _USAGE, rollup, account_id is not None),
            events
            and f"""
        SELECT toDate(started_at) AS day, account_id, model, toUInt64(1) AS requests,
               prompt_tokens, completion_tokens, cache_read_tokens, cache_write_tokens
        FROM request_events FINAL WHERE event_type = 'request.completed' AND {events}""",
        ),
        params,
    )


def _money_source(split: Split, account_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """Ledger movements of a period, and each account's last entry, as ``_usage_source``."""
    rollup, events, params = _split_sql("ledger_entries", split, account_id)
    return (
        _union(
            _rollup("revenue_daily", _MONEY, rollup, account_id is not None),
            events
            and f"""
        SELECT toDate(occurred_at) AS day, account_id, model,
               if(kind = 'charge', -amount_nano, 0) AS revenue_nano,
               if(kind = 'service_fee', -amount_nano, 0) AS fees_nano,
               if(kind = 'top_up', amount_nano, 0) AS top_ups_nano,
               if(kind = 'refund', amount_nano, 0) AS refunds_nano,
               if(kind = 'adjustment', amount_nano, 0) AS adjustments_nano,
               entry_seq AS last_entry_seq, balance_after_nano AS last_balance_nano
        FROM ledger_entries FINAL WHERE {events}""",
        ),
        params,
    )


def finance(client: Client, start: datetime, end: datetime, group_by: list[str]) -> dict[str, Any]:
    if start >= end:
        raise ReportError("'from' must be before 'to'", "from")
    exprs, names = _group_sql(group_by)
    group = f"GROUP BY {', '.join(names)}" if names else ""
    stale = stale_days(client)
    usage_sql, usage_params = _usage_source(split_period(start, end, stale["request_events"]))
    money_sql, money_params = _money_source(split_period(start, end, stale["ledger_entries"]))
    usage_rows = _rows(
        client,
        f"""
        SELECT {_select(exprs)} sum(requests) AS requests, sum(prompt_tokens) AS prompt_tokens,
               sum(completion_tokens) AS completion_tokens,
               sum(cache_read_tokens) AS cache_read_tokens,
               sum(cache_write_tokens) AS cache_write_tokens
        FROM ({usage_sql}) {group}""",
        usage_params,
    )
    money_rows = _rows(
        client,
        f"""
        SELECT {_select(exprs)} sum(revenue_nano) AS revenue_nano, sum(fees_nano) AS fees_nano,
               sum(top_ups_nano) AS top_ups_nano, sum(refunds_nano) AS refunds_nano,
               sum(adjustments_nano) AS adjustments_nano
        FROM ({money_sql}) {group}""",
        money_params,
    )
    merged: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(
        lambda: {
            "requests": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "revenue_nano": 0,
            "fees_nano": 0,
            "top_ups_nano": 0,
            "refunds_nano": 0,
            "adjustments_nano": 0,
        }
    )
    for row in usage_rows + money_rows:
        key = tuple(row[n] for n in names)
        target = merged[key]
        target.update({n: row[n] for n in names})
        for k, v in row.items():
            if k not in names:
                target[k] += int(v)
    rows = [_clean(r) for _, r in sorted(merged.items(), key=lambda kv: [str(x) for x in kv[0]])]
    # The liability is the balances at ``end``: the ledger from its beginning.
    liability_sql, liability_params = _money_source(
        split_period(None, end, stale["ledger_entries"])
    )
    liability = (
        _rows(
            client,
            f"""
        SELECT sum(last) AS liability_nano FROM (
            SELECT account_id, argMax(last_balance_nano, last_entry_seq) AS last
            FROM ({liability_sql}) GROUP BY account_id)""",
            liability_params,
        )[0]["liability_nano"]
        or 0
    )
    totals = {
        k: sum(r[k] for r in rows)
        for k in ("requests", "revenue_nano", "fees_nano", "top_ups_nano", "refunds_nano")
    }
    top = _rows(
        client,
        f"""
        SELECT account_id, model, sum(revenue_nano) AS revenue_nano FROM ({money_sql})
        GROUP BY account_id, model HAVING revenue_nano != 0
        ORDER BY revenue_nano DESC, account_id, model LIMIT 10""",
        money_params,
    )
    return {
        "from": _iso(start),
        "to": _iso(end),
        "group_by": group_by,
        "rows": rows,
        "totals": totals
        | {"revenue": format_usd(totals["revenue_nano"]), "fees": format_usd(totals["fees_nano"])},
        "prepaid_liability_nano": int(liability),
        "prepaid_liability": format_usd(int(liability)),
        "top": top,
    }


# -- reconciliation ------------------------------------------------------------------------------


def reconcile(
    client: Client, start: datetime, end: datetime, account_id: str | None = None
) -> list[dict[str, Any]]:
    """Every place where requests, charges and balance movements disagree."""
    if start >= end:
        raise ReportError("'from' must be before 'to'", "from")
    params = {"from": start, "to": end, "acc": account_id or ""}
    only = "AND (account_id = {acc:String} OR {acc:String} = '')"
    mismatches: list[dict[str, Any]] = []
    for row in _rows(
        client,
        f"""
        SELECT account_id, seq, prev_seq, amount_nano, balance_after_nano, prev_balance FROM (
            SELECT account_id, occurred_at, seq, amount_nano, balance_after_nano,
                   lagInFrame(seq) OVER w AS prev_seq,
                   lagInFrame(balance_after_nano) OVER w AS prev_balance
            FROM (SELECT account_id, occurred_at, amount_nano, balance_after_nano,
                         entry_seq AS seq
                  FROM ledger_entries FINAL WHERE 1 {only})
            WINDOW w AS (PARTITION BY account_id ORDER BY seq
                         ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING))
        WHERE occurred_at >= {{from:DateTime64(3)}} AND occurred_at < {{to:DateTime64(3)}}
          AND (seq != prev_seq + 1 OR balance_after_nano != prev_balance + amount_nano)""",
        params,
    ):
        kind = "ledger_gap" if row["seq"] != row["prev_seq"] + 1 else "balance_mismatch"
        mismatches.append({"kind": kind} | _clean(row))
    for row in _rows(
        client,
        f"""
        SELECT request_id, account_id, charges FROM (
            SELECT r.request_id AS request_id, r.account_id AS account_id,
                   countIf(l.request_id != '') AS charges
            FROM (SELECT request_id, account_id FROM request_events FINAL
                  WHERE event_type = 'request.completed'
                    AND prompt_tokens + completion_tokens > 0
                    AND started_at >= {{from:DateTime64(3)}} AND started_at < {{to:DateTime64(3)}}
                    {only}) AS r
            LEFT JOIN (SELECT request_id FROM ledger_entries FINAL WHERE kind = 'charge') AS l
              ON r.request_id = l.request_id
            GROUP BY r.request_id, r.account_id)
        WHERE charges != 1""",
        params,
    ):
        kind = "missing_charge" if row["charges"] == 0 else "duplicate_charge"
        mismatches.append({"kind": kind} | _clean(row))
    return mismatches
