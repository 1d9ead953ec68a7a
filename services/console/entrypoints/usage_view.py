"""The usage section a member and staff both see: metering's rows for the last N days,
drawn as charts and listed as a table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import Request

from schemas.events import ALERT_TYPES
from schemas.money import format_usd

from ..adapters.backends import BackendError
from ..adapters.charts import bar_chart
from ..domain.usage import by_field, by_token_kind, usage_totals
from .pages import backends, rid

__all__ = ["MAX_DAYS", "days_asked", "period", "usage_context", "webhooks_context"]

#: Usage by key reads the event tables: metering serves at most 93 days of it.
MAX_DAYS = 93


def days_asked(request: Request, default: int = 30) -> int:
    given = request.query_params.get("days", "")
    return max(1, min(MAX_DAYS, int(given))) if given.isdigit() else default


def period(days: int, today: date | None = None) -> dict[str, str]:
    """The last ``days`` whole days, today included (UTC)."""
    end = (today or datetime.now(UTC).date()) + timedelta(days=1)
    return {"from": (end - timedelta(days=days)).isoformat(), "to": end.isoformat()}


async def usage_context(
    request: Request,
    account_id: str,
    bearer: str,
    days: int,
    keys: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Charts and rows of ``account_id``'s usage, read with ``bearer`` (``keys``, billing's
    key records, name the keys); a refusal is shown in the section, not as the page's
    error."""
    asked = period(days) | {"by": "key"}
    context: dict[str, Any] = {"days": days, "max_days": MAX_DAYS}
    try:
        # By key and model: the charts by model and by token kind add these up, so one
        # query serves the page (days stay within what metering serves by key).
        found = await backends(request).call(
            "metering", "GET", f"/v1/usage/{account_id}", bearer, params=asked, rid=rid(request)
        )
    except BackendError as exc:
        return context | {"usage_error": exc.message, "usage_rows": [], "charts": []}
    names = {k["key_id"]: f"{k['name'] or k['key_id']} ({k['prefix']}…)" for k in keys or []}
    rows = [r | {"key": names.get(r["key_id"], r["key_id"])} for r in found.body["data"]]
    totals = usage_totals(rows)
    return context | {
        "usage_rows": rows,
        "totals": totals | {"cost": format_usd(totals["cost_nano"])},
        "charts": [
            bar_chart("Tokens per day, by kind", by_token_kind(rows)),
            bar_chart("USD per day, by model", by_field(rows, "model", "cost"), usd=True),
            bar_chart("Tokens per day, by key", by_field(rows, "key", "tokens")),
        ],
    }


async def webhooks_context(request: Request, account_id: str, bearer: str) -> dict[str, Any]:
    """``account_id``'s webhooks, each with its last deliveries (the dispatcher's log), read
    with ``bearer``; a refusal is shown in the section."""
    api = backends(request)
    try:
        hooks = (
            await api.call(
                "billing", "GET", f"/v1/accounts/{account_id}/webhooks", bearer, rid=rid(request)
            )
        ).body["data"]
        for hook in hooks:
            log = await api.call(
                "dispatcher",
                "GET",
                f"/v1/webhooks/{hook['webhook_id']}/deliveries",
                bearer,
                rid=rid(request),
            )
            hook["deliveries"] = log.body["data"][:5]
    except BackendError as exc:
        return {"webhooks_error": exc.message}
    return {"webhooks": hooks, "alert_types": ALERT_TYPES}
