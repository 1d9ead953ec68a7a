"""Wires billing: prices, the exactly-once consumer, and the admin API over one process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .adapters.consumer import BillingConsumer
from .adapters.prices import PriceFeed, catalog_prices
from .adapters.publisher import KafkaPublisher
from .adapters.view import AdminView
from .domain.pricing import PriceBook
from .entrypoints.http import build_app
from .service_layer.admin import AdminRuntime
from .service_layer.engine import Engine
from .settings import BillingSettings

__all__ = ["create_app"]


def create_app(settings: BillingSettings | None = None) -> FastAPI:
    cfg = settings or BillingSettings()
    prices = PriceBook(catalog_prices(cfg.catalog))
    view = AdminView(cfg.kafka_bootstrap)
    publisher = KafkaPublisher(cfg.kafka_bootstrap)
    feed = PriceFeed(cfg.kafka_bootstrap, prices)
    consumer = BillingConsumer(cfg.kafka_bootstrap, Engine(prices, cfg.rules), cfg.instance)
    runtime = AdminRuntime(
        admin_token=cfg.admin_token,
        view=view,
        publisher=publisher,
        prices=prices,
        rules=cfg.rules,
        rotation_overlap_s=cfg.key_rotation_overlap_s,
        ready=lambda: view.ready.is_set() and feed.ready.is_set() and consumer.ready,
        stats=lambda: {
            "accounts_owned": len(consumer.engine.accounts),
            "events_applied": consumer.applied,
            "dead_lettered": consumer.dead_lettered,
        },
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await publisher.start()
        await feed.start()
        await view.start()
        await feed.ready.wait()  # never price a request before the price changes are known
        await consumer.start()
        app.state.consumer = consumer
        try:
            yield
        finally:
            await consumer.stop()
            await view.stop()
            await feed.stop()
            await publisher.stop()

    return build_app(runtime, lifespan)
