"""Wires billing: prices, the exactly-once consumer, and the admin API over one process."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from schemas.prices import PriceBook
from schemas.webhooks import master_key

from .adapters.metrics import watch_accounts
from .adapters.passwords import Passwords
from .adapters.prices import catalog_prices
from .adapters.publisher import KafkaPublisher
from .adapters.view import AdminView
from .entrypoints.consumer import BillingConsumer
from .entrypoints.http import build_app
from .entrypoints.price_feed import price_feed
from .entrypoints.view_feed import view_feed
from .service_layer.admin import AdminRuntime
from .service_layer.engine import Engine
from .settings import BillingSettings

__all__ = ["create_app"]


def create_app(settings: BillingSettings | None = None) -> FastAPI:
    cfg = settings or BillingSettings()
    prices = PriceBook(catalog_prices(cfg.catalog))
    view = AdminView()
    view_reader = view_feed(cfg.kafka_bootstrap, view)
    publisher = KafkaPublisher(cfg.kafka_bootstrap)
    feed = price_feed(cfg.kafka_bootstrap, prices)
    consumer = BillingConsumer(
        cfg.kafka_bootstrap, Engine(prices, cfg.rules), cfg.instance, tick_s=cfg.clock_tick_s
    )
    watch_accounts(lambda: [a.status for a in consumer.engine.accounts.values()])
    runtime = AdminRuntime(
        tokens=cfg.tokens,
        view=view,
        publisher=publisher,
        prices=prices,
        rules=cfg.rules,
        rotation_overlap_s=cfg.key_rotation_overlap_s,
        ready=lambda: (
            view_reader.ready.is_set()
            and feed.ready.is_set()
            and consumer.ready
            and not consumer.stuck
        ),
        stats=lambda: {
            "accounts_owned": len(consumer.engine.accounts),
            "events_applied": consumer.applied,
            "dead_lettered": consumer.dead_lettered,
            "parked": consumer.parked,
            "last_parked": consumer.last_parked,
            "consumer": "stuck" if consumer.stuck else "running" if consumer.ready else "starting",
            "consumer_failures_in_a_row": consumer.failures_in_a_row,
            "consumer_last_error": consumer.last_error or None,
            "last_batch_at": consumer.last_progress,
            "clock_ticks_written": consumer.ticks_written,
        },
        healthy=lambda: not consumer.stuck,
        webhook_master=functools.cache(lambda: cfg.webhook_key or master_key(cfg.data_dir)),
        webhooks_allow_http=cfg.webhooks_allow_http,
        passwords=Passwords(),
        session_ttl_s=cfg.session_ttl_s,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await publisher.start()
        await feed.start()
        await view_reader.start()
        await feed.ready.wait()  # never price a request before the price changes are known
        await consumer.start()
        app.state.consumer = consumer
        try:
            yield
        finally:
            await consumer.stop()
            await view_reader.stop()
            await feed.stop()
            await publisher.stop()

    return build_app(runtime, lifespan)
