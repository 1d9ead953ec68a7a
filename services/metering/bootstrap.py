"""Wires metering: ClickHouse (migrated before anything is read or written), the sink that
fills it from Kafka, the reports over it, and the API, in one process (the embedded engine
allows one process per folder)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from schemas.admin_access import TokenBook

from .adapters.clickhouse import ClickHouse
from .adapters.reports import ClickHouseReports
from .entrypoints.http import build_app
from .entrypoints.sink import MeteringSink
from .settings import MeteringSettings

__all__ = ["Runtime", "create_app"]


@dataclass(frozen=True)
class Runtime:
    tokens: TokenBook
    clickhouse: ClickHouse
    sink: MeteringSink
    reports: ClickHouseReports

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy, and what says so: the store answers and the sink is not stuck."""
        try:
            migrations: int | None = await self.clickhouse.migrations_applied()
        except Exception as exc:  # the store is down: say so
            migrations, error = None, f"{type(exc).__name__}: {exc}"[:300]
        else:
            error = self.sink.last_error if self.sink.stuck else ""
        healthy = not self.sink.stuck and migrations is not None
        return healthy, {
            "status": "ok" if healthy else "stuck",
            "service": "metering",
            "clickhouse": self.clickhouse.target.kind,
            "migrations": migrations,
            "rows_written": self.sink.rows_written,
            "dead_lettered": self.sink.dead_lettered,
            "sink_failures_in_a_row": self.sink.failures_in_a_row,
            "error": error or None,
            "lag": await self.sink.lag(),
        }


def create_app(settings: MeteringSettings | None = None) -> FastAPI:
    cfg = settings or MeteringSettings()
    # Here, not in the lifespan: a CLICKHOUSE_URL that does not parse, a folder that cannot
    # be used or a server that refuses the user is one line on stderr at startup
    # (schemas.serving), not a traceback.
    clickhouse = ClickHouse(
        cfg.clickhouse_url,
        cfg.clickhouse_database,
        username=cfg.clickhouse_user,
        password=cfg.clickhouse_password,
    )
    clickhouse.check()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await clickhouse.migrate_async()
        sink = MeteringSink(cfg.kafka_bootstrap, clickhouse, group=cfg.group)
        await sink.start()
        app.state.runtime = Runtime(cfg.tokens, clickhouse, sink, ClickHouseReports(clickhouse))
        try:
            yield
        finally:
            await sink.stop()
            clickhouse.close()

    return build_app(lifespan)
