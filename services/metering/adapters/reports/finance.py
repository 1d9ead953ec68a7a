"""An account's usage and the finance report, summed over ``sources``."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.money import format_usd

from ...domain.columns import FLOWS, TOKENS, USAGE, zeros
from ...domain.periods import grouping, split_period
from ._sql import clean, iso, rows
from .sources import money_source, stale_days, usage_source

__all__ = ["finance", "usage", "usage_by_key"]


def _sums(columns: tuple[str, ...]) -> str:
    return ", ".join(f"sum({c}) AS {c}" for c in columns)


def usage(client: Client, account_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """One account's completed requests, tokens and cost by day and model (the rollups for
    whole days caught up, the event tables for the rest, as the finance report)."""
    stale = stale_days(client)
    usage_sql, usage_params = usage_source(
        split_period(start, end, stale["request_events"]), account_id
    )
    money_sql, money_params = money_source(
        split_period(start, end, stale["ledger_entries"]), account_id
    )
    found = rows(
        client,
        f"""
        SELECT day, model, {_sums(USAGE)}, sum(cost) AS cost_nano
        FROM (SELECT day, model, {", ".join(USAGE)}, toInt64(0) AS cost FROM ({usage_sql})
              UNION ALL
              SELECT day, model, {", ".join("0" for _ in USAGE)}, revenue_nano
              FROM ({money_sql}))
        GROUP BY day, model HAVING requests > 0 ORDER BY day, model""",
        usage_params | money_params,
    )
    return [clean(r) | {"cost": format_usd(int(r["cost_nano"]))} for r in found]


def usage_by_key(
    client: Client, account_id: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """One account's completed requests, tokens and cost by day, key and model, from the
    event tables (the rollups keep no key): each charge joined to its request by id."""
    found = rows(
        client,
        f"""
        SELECT toDate(r.started_at) AS day, r.key_id AS key_id, r.model AS model,
               count() AS requests, {", ".join(f"sum(r.{c}) AS {c}" for c in TOKENS)},
               sum(ifNull(c.cost, 0)) AS cost_nano
        FROM (SELECT request_id, key_id, model, started_at, {", ".join(TOKENS)}
              FROM request_events FINAL
              WHERE account_id = {{acc:String}} AND event_type = 'request.completed'
                AND started_at >= {{from:DateTime64(3)}} AND started_at < {{to:DateTime64(3)}})
             AS r
        LEFT JOIN (SELECT request_id, -amount_nano AS cost FROM ledger_entries FINAL
                   WHERE account_id = {{acc:String}} AND kind = 'charge'
                     AND occurred_at >= {{from:DateTime64(3)}}) AS c
          ON r.request_id = c.request_id
        GROUP BY day, key_id, model ORDER BY day, key_id, model""",
        {"acc": account_id, "from": start, "to": end},
    )
    return [clean(r) | {"cost": format_usd(int(r["cost_nano"]))} for r in found]


def finance(client: Client, start: datetime, end: datetime, group_by: list[str]) -> dict[str, Any]:
    """Requests, tokens and money moved in ``[start, end)`` grouped by ``group_by``; revenue
    also by token kind (each part rounded on its own, so the four may differ from
    revenue_nano by up to 2 nano-USD a charge); the prepaid liability at ``end``; the top
    ten accounts x models by revenue."""
    exprs, names = grouping(group_by)
    select = ", ".join(exprs) + ", " if exprs else ""
    group = f"GROUP BY {', '.join(names)}" if names else ""
    stale = stale_days(client)
    usage_sql, usage_params = usage_source(split_period(start, end, stale["request_events"]))
    money_sql, money_params = money_source(split_period(start, end, stale["ledger_entries"]))
    usage_rows = rows(
        client, f"SELECT {select} {_sums(USAGE)} FROM ({usage_sql}) {group}", usage_params
    )
    money_rows = rows(
        client, f"SELECT {select} {_sums(FLOWS)} FROM ({money_sql}) {group}", money_params
    )
    merged: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(lambda: zeros(*USAGE, *FLOWS))
    for row in usage_rows + money_rows:
        target = merged[tuple(row[n] for n in names)]
        for k, v in row.items():
            target[k] = v if k in names else target[k] + int(v)
    report = [clean(r) for _, r in sorted(merged.items(), key=lambda kv: [str(x) for x in kv[0]])]
    totals = {k: sum(r[k] for r in report) for k in ("requests", *TOKENS, *FLOWS)}
    return {
        "from": iso(start),
        "to": iso(end),
        "group_by": group_by,
        "rows": report,
        "totals": totals
        | {"revenue": format_usd(totals["revenue_nano"]), "fees": format_usd(totals["fees_nano"])},
        **_liability(client, end, stale["ledger_entries"]),
        "top": rows(
            client,
            f"""
        SELECT account_id, model, sum(revenue_nano) AS revenue_nano FROM ({money_sql})
        GROUP BY account_id, model HAVING revenue_nano != 0
        ORDER BY revenue_nano DESC, account_id, model LIMIT 10""",
            money_params,
        ),
    }


def _liability(client: Client, end: datetime, stale: frozenset[Any]) -> dict[str, Any]:
    """The balances at ``end``: the ledger from its beginning, each account's last entry."""
    sql, params = money_source(split_period(None, end, stale))
    found = rows(
        client,
        f"""
        SELECT sum(last) AS liability_nano FROM (
            SELECT account_id, argMax(last_balance_nano, last_entry_seq) AS last
            FROM ({sql}) GROUP BY account_id)""",
        params,
    )
    liability = int(found[0]["liability_nano"] or 0)
    return {"prepaid_liability_nano": liability, "prepaid_liability": format_usd(liability)}
