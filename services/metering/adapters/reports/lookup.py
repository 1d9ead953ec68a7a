"""Support's lookup: everything recorded about one request_id."""

from __future__ import annotations

from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.money import format_usd

from ...domain.columns import COSTS, TOKENS
from ._sql import clean, rows

__all__ = ["lookup"]

_EVENT_COLUMNS = (
    "event_type, event_id, occurred_at, account_id, key_id, model, deployment, surface, "
    "stream, max_tokens, prompt_tokens_estimate, started_at, status, http_status, "
    f"error_code, finish_reason, {', '.join(TOKENS)}, usage_source, ttft_ms, latency_ms"
)
_LEDGER_COLUMNS = (
    "entry_id, occurred_at, kind, amount_nano, balance_after_nano, model, price_version, "
    + ", ".join(COSTS)
)


def _unique(found: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Rows with distinct ``key``, first kept: the lookup reads without FINAL."""
    seen: set[Any] = set()
    unique = []
    for row in found:
        if row[key] not in seen:
            seen.add(row[key])
            unique.append(row)
    return unique


def _charge(entry: dict[str, Any]) -> dict[str, Any]:
    cost, after = -entry["amount_nano"], entry["balance_after_nano"]
    return {
        "cost": format_usd(cost),
        "cost_nano": cost,
        "price_version": entry["price_version"],
        "breakdown_nano": {c.removesuffix("_cost_nano"): entry[c] for c in COSTS},
        "balance_after": format_usd(after),
        "balance_after_nano": after,
        "made_balance_run_out": after <= 0 < after + cost,
    }


def lookup(client: Client, request_id: str) -> dict[str, Any] | None:
    # No FINAL: it would bypass the by_request_id projection (migration 0004); the
    # handful of rows one request has are deduplicated here instead.
    events = _unique(
        rows(
            client,
            f"""
        SELECT {_EVENT_COLUMNS} FROM request_events WHERE request_id = {{rid:String}}
        ORDER BY occurred_at, event_type = 'request.completed'""",
            {"rid": request_id},
        ),
        "event_id",
    )
    if not events:
        return None
    ledger = _unique(
        rows(
            client,
            f"""
        SELECT {_LEDGER_COLUMNS} FROM ledger_entries WHERE request_id = {{rid:String}}
        ORDER BY occurred_at""",
            {"rid": request_id},
        ),
        "entry_id",
    )
    started = next((e for e in events if e["event_type"] == "request.started"), None)
    completed = next((e for e in events if e["event_type"] == "request.completed"), None)
    last = completed or {}
    summary: dict[str, Any] = {
        "request_id": request_id,
        "account_id": events[0]["account_id"],
        "key_id": events[0]["key_id"],
        "model": events[0]["model"],
        "deployment": (completed or started or {}).get("deployment"),
        "state": "completed" if completed else "started, never completed",
        "status": last.get("status"),
        "http_status": last.get("http_status"),
        "error_code": last.get("error_code") or None,
        "tokens": None
        if completed is None
        else {k: completed[k] for k in (*TOKENS, "usage_source")},
        "latency_ms": last.get("latency_ms"),
        "ttft_ms": last.get("ttft_ms"),
        "charge": _charge(ledger[0]) if ledger else None,
    }
    return summary | {"events": [clean(e) for e in events], "ledger": [clean(e) for e in ledger]}
