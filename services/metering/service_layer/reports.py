"""What support and finance ask metering, over a ``Reports`` port (ClickHouse's in
production): the answers as the API returns them, and the refusals as metering's errors."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from ..domain.periods import grouping
from ..errors import BadRequest, NotFound

__all__ = [
    "Reports",
    "account_statement",
    "account_usage",
    "finance_report",
    "reconciliation",
    "trail",
]


class Reports(Protocol):
    async def lookup(self, request_id: str) -> dict[str, Any] | None: ...

    async def usage(
        self, account_id: str, start: datetime, end: datetime
    ) -> list[dict[str, Any]]: ...

    async def usage_by_key(
        self, account_id: str, start: datetime, end: datetime
    ) -> list[dict[str, Any]]: ...

    async def finance(
        self, start: datetime, end: datetime, group_by: list[str]
    ) -> dict[str, Any]: ...

    async def reconcile(
        self, start: datetime, end: datetime, account_id: str | None
    ) -> list[dict[str, Any]]: ...

    async def statement(
        self, account_id: str, start: datetime, end: datetime
    ) -> dict[str, Any]: ...


async def trail(reports: Reports, request_id: str) -> dict[str, Any]:
    found = await reports.lookup(request_id)
    if found is None:
        raise NotFound(
            f"No request {request_id} has been recorded (ids look like req_…; events land "
            "within seconds).",
            "request_id",
            "request_not_found",
        )
    return found


#: The longest period usage by key covers (it reads the event tables, not the rollups).
BY_KEY_MAX = timedelta(days=93)


async def account_usage(
    reports: Reports, account_id: str, start: datetime, end: datetime, by: str = "model"
) -> dict[str, Any]:
    """By day and model (``by=model``), or by day, key and model (``by=key``)."""
    if by not in ("model", "key"):
        raise BadRequest("'by' must be model or key.", "by")
    if by == "key" and end - start > BY_KEY_MAX:
        raise BadRequest(f"Usage by key covers at most {BY_KEY_MAX.days} days.", "from")
    if by == "key":
        rows = await reports.usage_by_key(account_id, start, end)
    else:
        rows = await reports.usage(account_id, start, end)
    return {
        "account_id": account_id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "data": rows,
    }


async def account_statement(
    reports: Reports, account_id: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """Opening balance, every ledger entry of ``[start, end)``, closing balance."""
    found = await reports.statement(account_id, start, end)
    return {"from": start.isoformat(), "to": end.isoformat()} | found


async def finance_report(
    reports: Reports, start: datetime, end: datetime, group_by: list[str]
) -> dict[str, Any]:
    grouping(group_by)  # refuse a bad grouping before any query
    return await reports.finance(start, end, group_by)


async def reconciliation(
    reports: Reports, start: datetime, end: datetime, account_id: str | None
) -> dict[str, Any]:
    found = await reports.reconcile(start, end, account_id)
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "account_id": account_id,
        "mismatches": found,
        "ok": not found,
    }
