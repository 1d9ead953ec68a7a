"""What every report query shares: rows as dicts, values as JSON-ready text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clickhouse_connect.driver.client import Client

__all__ = ["clean", "iso", "rows", "union"]


def rows(client: Client, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    result = client.query(sql, parameters=params)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def iso(value: Any) -> Any:
    """Dates and times as ISO 8601 (naive times are UTC, as ClickHouse returns them)."""
    if not hasattr(value, "isoformat"):
        return value
    return value.isoformat() + ("Z" if isinstance(value, datetime) and value.tzinfo is None else "")


def clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: iso(v) for k, v in row.items()}


def union(*selects: str | None) -> str:
    return "\nUNION ALL\n".join(s for s in selects if s)
