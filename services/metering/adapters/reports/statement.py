"""An account's statement: its balance at the start of a period, every ledger entry in it
in the order billing applied them, and the balance at the end, replayed from the entries
(and checked against the balance billing recorded after each)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.money import format_usd

from ...errors import BadRequest
from ._sql import clean, rows

__all__ = ["MAX_STATEMENT_ENTRIES", "statement"]

#: The most entries one statement lists (a busy account's charges): more is a narrower period.
MAX_STATEMENT_ENTRIES = 200_000


_ONE = "account_id = {acc:String}"
_BEFORE = "occurred_at < {at:DateTime64(3)}"
_PERIOD = f"{_ONE} AND occurred_at >= {{from:DateTime64(3)}} AND occurred_at < {{to:DateTime64(3)}}"


def _balance_before(client: Client, account_id: str, at: datetime) -> int:
    """The balance after the last entry before ``at`` (0 before the first)."""
    found = rows(
        client,
        f"""
        SELECT argMax(balance_after_nano, entry_seq) AS balance, count() AS entries
        FROM ledger_entries FINAL WHERE {_ONE} AND {_BEFORE}""",
        {"acc": account_id, "at": at},
    )
    return int(found[0]["balance"]) if found and found[0]["entries"] else 0


def _shown(entry: dict[str, Any]) -> dict[str, Any]:
    usd = {"amount": entry["amount_nano"], "balance_after": entry["balance_after_nano"]}
    return clean(entry) | {name: format_usd(nano) for name, nano in usd.items()}


def statement(client: Client, account_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    params = {"acc": account_id, "from": start, "to": end}
    period = (
        f"{_ONE} AND occurred_at >= {{from:DateTime64(3)}} AND occurred_at < {{to:DateTime64(3)}}"
    )
    (counted,) = rows(
        client, f"SELECT count() AS n FROM ledger_entries FINAL WHERE {period}", params
    )
    if counted["n"] > MAX_STATEMENT_ENTRIES:
        raise BadRequest(
            f"The period holds {counted['n']} ledger entries, more than the "
            f"{MAX_STATEMENT_ENTRIES} a statement lists: ask for a shorter one.",
            "from",
        )
    entries = rows(
        client,
        f"""
        SELECT entry_seq AS seq, entry_id, occurred_at, kind, amount_nano, balance_after_nano,
               request_id, model, reason, actor, idempotency_key
        FROM ledger_entries FINAL WHERE {_PERIOD} ORDER BY entry_seq""",
        params,
    )
    opening = _balance_before(client, account_id, start)
    balance, breaks = opening, []
    totals: dict[str, int] = {}
    for entry in entries:
        balance += entry["amount_nano"]
        totals[entry["kind"]] = totals.get(entry["kind"], 0) + entry["amount_nano"]
        if balance != entry["balance_after_nano"]:
            breaks.append(entry["entry_id"])
            balance = entry["balance_after_nano"]
    return {
        "account_id": account_id,
        "opening_balance_nano": opening,
        "opening_balance": format_usd(opening),
        "closing_balance_nano": balance,
        "closing_balance": format_usd(balance),
        "totals_nano": totals,
        "entries": [
            clean(e)
            | {
                "amount": format_usd(e["amount_nano"]),
                "balance_after": format_usd(e["balance_after_nano"]),
            }
            for e in entries
        ],
        # Entries whose recorded balance is not the previous one plus their amount (none,
        # unless the ledger is incomplete here: see /v1/reconcile).
        "breaks": breaks,
    }
