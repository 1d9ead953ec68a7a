"""Reconciliation: every place where requests, charges and balance movements disagree."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from ._sql import clean, rows

__all__ = ["reconcile"]

_ONLY = "AND (account_id = {acc:String} OR {acc:String} = '')"

#: Ledger entries whose sequence skips or whose balance does not follow from the previous.
_LEDGER_BREAKS = f"""
        SELECT account_id, seq, prev_seq, amount_nano, balance_after_nano, prev_balance FROM (
            SELECT account_id, occurred_at, seq, amount_nano, balance_after_nano,
                   lagInFrame(seq) OVER w AS prev_seq,
                   lagInFrame(balance_after_nano) OVER w AS prev_balance
            FROM (SELECT account_id, occurred_at, amount_nano, balance_after_nano,
                         entry_seq AS seq
                  FROM ledger_entries FINAL WHERE 1 {_ONLY})
            WINDOW w AS (PARTITION BY account_id ORDER BY seq
                         ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING))
        WHERE occurred_at >= {{from:DateTime64(3)}} AND occurred_at < {{to:DateTime64(3)}}
          AND (seq != prev_seq + 1 OR balance_after_nano != prev_balance + amount_nano)"""

#: Completed requests with tokens that were charged other than once.
_CHARGES_NOT_ONE = f"""
        SELECT request_id, account_id, charges FROM (
            SELECT r.request_id AS request_id, r.account_id AS account_id,
                   countIf(l.request_id != '') AS charges
            FROM (SELECT request_id, account_id FROM request_events FINAL
                  WHERE event_type = 'request.completed'
                    AND prompt_tokens + completion_tokens > 0
                    AND started_at >= {{from:DateTime64(3)}} AND started_at < {{to:DateTime64(3)}}
                    {_ONLY}) AS r
            LEFT JOIN (SELECT request_id FROM ledger_entries FINAL WHERE kind = 'charge') AS l
              ON r.request_id = l.request_id
            GROUP BY r.request_id, r.account_id)
        WHERE charges != 1"""


def reconcile(
    client: Client, start: datetime, end: datetime, account_id: str | None = None
) -> list[dict[str, Any]]:
    params = {"from": start, "to": end, "acc": account_id or ""}
    mismatches: list[dict[str, Any]] = []
    for row in rows(client, _LEDGER_BREAKS, params):
        kind = "ledger_gap" if row["seq"] != row["prev_seq"] + 1 else "balance_mismatch"
        mismatches.append({"kind": kind} | clean(row))
    for row in rows(client, _CHARGES_NOT_ONE, params):
        kind = "missing_charge" if row["charges"] == 0 else "duplicate_charge"
        mismatches.append({"kind": kind} | clean(row))
    return mismatches
