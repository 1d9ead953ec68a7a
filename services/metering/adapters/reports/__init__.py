"""Finance, support and reconciliation, as ClickHouse SQL over the event tables and the
daily rollups: ``lookup`` (support), ``finance`` and ``usage``, ``statement``,
``reconcile``; where each
reads a period from is ``sources``. ``ClickHouseReports`` serves them to the service layer
on ClickHouse's query threads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..clickhouse import ClickHouse
from .finance import finance, usage, usage_by_key
from .lookup import lookup
from .reconcile import reconcile
from .sources import stale_days
from .statement import statement

__all__ = [
    "ClickHouseReports",
    "finance",
    "lookup",
    "reconcile",
    "stale_days",
    "statement",
    "usage",
    "usage_by_key",
]


class ClickHouseReports:
    def __init__(self, clickhouse: ClickHouse) -> None:
        self._ch = clickhouse

    async def lookup(self, request_id: str) -> dict[str, Any] | None:
        return await self._ch.run(lambda c: lookup(c, request_id))

    async def usage(self, account_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return await self._ch.run(lambda c: usage(c, account_id, start, end))

    async def usage_by_key(
        self, account_id: str, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        return await self._ch.run(lambda c: usage_by_key(c, account_id, start, end))

    async def finance(self, start: datetime, end: datetime, group_by: list[str]) -> dict[str, Any]:
        return await self._ch.run(lambda c: finance(c, start, end, group_by))

    async def statement(self, account_id: str, start: datetime, end: datetime) -> dict[str, Any]:
        return await self._ch.run(lambda c: statement(c, account_id, start, end))

    async def reconcile(
        self, start: datetime, end: datetime, account_id: str | None
    ) -> list[dict[str, Any]]:
        return await self._ch.run(lambda c: reconcile(c, start, end, account_id))
