"""Metering's HTTP surface. Until the reporting API lands: health only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from ..adapters.clickhouse import ClickHouse
from ..settings import MeteringSettings

__all__ = ["create_app"]


def create_app(settings: MeteringSettings | None = None) -> FastAPI:
    cfg = settings or MeteringSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        clickhouse = ClickHouse(cfg.clickhouse_url, cfg.clickhouse_database)
        await clickhouse.migrate_async()
        producer = AIOKafkaProducer(bootstrap_servers=cfg.kafka_bootstrap)
        await producer.start()
        app.state.clickhouse, app.state.producer = clickhouse, producer
        try:
            yield
        finally:
            await producer.stop()
            clickhouse.close()

    app = FastAPI(title="Tollway metering", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        clickhouse: ClickHouse = app.state.clickhouse
        tables = await clickhouse.run(
            lambda c: c.query("SELECT count() FROM schema_migrations").result_rows[0][0]
        )
        return JSONResponse(
            {
                "status": "ok",
                "service": "metering",
                "clickhouse": clickhouse.target.kind,
                "migrations": tables,
            }
        )

    return app
