"""Finance, support and reconciliation, as ClickHouse SQL over the event tables.

Every read uses FINAL so that rows re-inserted after a crash (same event_id)
count once. Periods are half-open: ``from <= t < to``, UTC.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.money import format_usd

__all__ = ["GROUPS", "ReportError", "finance", "lookup", "reconcile", "usage"]

PERIODS = {"day": "toDate({t})", "week": "toMonday({t})", "month": "toStartOfMonth({t})"}
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
        FROM request_events WHERE request_id = {rid:String} ORDER BY occurred_at""",
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
    params = {"acc": account_id, "from": start, "to": end}
    tokens = _rows(
        client,
        """
        SELECT toDate(started_at) AS day, model, count() AS requests,
               sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
               sum(cache_read_tokens) AS cache_read_tokens
        FROM request_events FINAL
        WHERE account_id = {acc:String} AND event_type = 'request.completed'
          AND started_at >= {from:DateTime64(3)} AND started_at < {to:DateTime64(3)}
        GROUP BY day, model ORDER BY day, model""",
        params,
    )
    costs = {
        (r["day"], r["model"]): r["cost_nano"]
        for r in _rows(
            client,
            """
        SELECT toDate(occurred_at) AS day, model, -sum(amount_nano) AS cost_nano
        FROM ledger_entries FINAL
        WHERE account_id = {acc:String} AND kind = 'charge'
          AND occurred_at >= {from:DateTime64(3)} AND occurred_at < {to:DateTime64(3)}
        GROUP BY day, model""",
            params,
        )
    }
    return [
        _clean(r)
        | {
            "cost_nano": costs.get((r["day"], r["model"]), 0),
            "cost": format_usd(costs.get((r["day"], r["model"]), 0)),
        }
        for r in tokens
    ]


def _group_sql(group_by: list[str], time_column: str) -> tuple[list[str], list[str]]:
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
            exprs.append(PERIODS[g].format(t=time_column) + " AS period")
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


def finance(client: Client, start: datetime, end: datetime, group_by: list[str]) -> dict[str, Any]:
    if start >= end:
        raise ReportError("'from' must be before 'to'", "from")
    params = {"from": start, "to": end}
    usage_exprs, names = _group_sql(group_by, "started_at")
    money_exprs, _ = _group_sql(group_by, "occurred_at")
    group = f"GROUP BY {', '.join(names)}" if names else ""
    usage_rows = _rows(
        client,
        f"""
        SELECT {_select(usage_exprs)} count() AS requests, sum(prompt_tokens) AS prompt_tokens,
               sum(completion_tokens) AS completion_tokens,
               sum(cache_read_tokens) AS cache_read_tokens,
               sum(cache_write_tokens) AS cache_write_tokens
        FROM request_events FINAL
        WHERE event_type = 'request.completed'
          AND started_at >= {{from:DateTime64(3)}} AND started_at < {{to:DateTime64(3)}}
        {group}""",
        params,
    )
    money_rows = _rows(
        client,
        f"""
        SELECT {_select(money_exprs)}
               -sumIf(amount_nano, kind = 'charge') AS revenue_nano,
               -sumIf(amount_nano, kind = 'service_fee') AS fees_nano,
               sumIf(amount_nano, kind = 'top_up') AS top_ups_nano,
               sumIf(amount_nano, kind = 'refund') AS refunds_nano,
               sumIf(amount_nano, kind = 'adjustment') AS adjustments_nano
        FROM ledger_entries FINAL
        WHERE occurred_at >= {{from:DateTime64(3)}} AND occurred_at < {{to:DateTime64(3)}}
        {group}""",
        params,
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
    liability = (
        _rows(
            client,
            """
        SELECT sum(last) AS liability_nano FROM (
            SELECT account_id, argMax(balance_after_nano, entry_seq) AS last
            FROM ledger_entries FINAL WHERE occurred_at < {to:DateTime64(3)}
            GROUP BY account_id)""",
            params,
        )[0]["liability_nano"]
        or 0
    )
    totals = {
        k: sum(r[k] for r in rows)
        for k in ("requests", "revenue_nano", "fees_nano", "top_ups_nano", "refunds_nano")
    }
    top = _rows(
        client,
        """
        SELECT account_id, model, -sum(amount_nano) AS revenue_nano FROM ledger_entries FINAL
        WHERE kind = 'charge' AND occurred_at >= {from:DateTime64(3)}
          AND occurred_at < {to:DateTime64(3)}
        GROUP BY account_id, model ORDER BY revenue_nano DESC LIMIT 10""",
        params,
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
