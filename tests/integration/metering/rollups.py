"""Bringing the rollups up to date from a test."""

from __future__ import annotations

from typing import Any

from schemas.clickhouse import ROLLUP_VIEWS

__all__ = ["refresh_rollups"]


def refresh_rollups(client: Any) -> None:
    """A refresh of every rollup that starts after this call (one already running may have
    begun before it), waited for."""
    for view in ROLLUP_VIEWS:
        client.command(f"SYSTEM WAIT VIEW {view}")
        client.command(f"SYSTEM REFRESH VIEW {view}")
        client.command(f"SYSTEM WAIT VIEW {view}")
