"""Wires the dispatcher: read back the recorded deliveries, follow the webhook registry,
then take alerts and attempt what is due."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from schemas.admin_access import TokenBook
from schemas.events import decode_event
from schemas.streams import partitions, read_to_end
from schemas.topics import WEBHOOK_DELIVERIES

from .adapters.metrics import watch
from .adapters.sender import HttpSender
from .entrypoints.alerts import broker_for, record, subscribe_alerts, webhook_feed
from .entrypoints.http import build_app
from .service_layer.dispatcher import Dispatcher
from .settings import DispatcherSettings

__all__ = ["Runtime", "create_app"]


@dataclass(frozen=True)
class Runtime:
    tokens: TokenBook
    dispatcher: Dispatcher
    ready: Callable[[], bool]

    def stats(self) -> dict[str, Any]:
        pending = sum(d.status == "pending" for d in self.dispatcher.deliveries.values())
        return {
            "service": "dispatcher",
            "webhooks": len(self.dispatcher.webhooks),
            "pending": pending,
            "delivered": self.dispatcher.delivered,
            "failed": self.dispatcher.failed,
            "alerts_skipped": self.dispatcher.skipped,
        }


def create_app(settings: DispatcherSettings | None = None) -> FastAPI:
    cfg = settings or DispatcherSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        broker = broker_for(cfg.kafka_bootstrap)
        sender = HttpSender(cfg.timeout_s)
        dispatcher = Dispatcher(
            lambda d: record(broker, d), sender, cfg.master, cfg.retries_s, cfg.concurrency
        )
        watch(dispatcher)
        for r in await read_to_end(cfg.kafka_bootstrap, partitions(WEBHOOK_DELIVERIES)):
            if r.value is not None:
                dispatcher.apply(decode_event(r.value))
        feed = webhook_feed(cfg.kafka_bootstrap, dispatcher)
        await feed.start()
        await feed.ready.wait()  # an alert must find the webhooks registered before it
        subscribe_alerts(broker, dispatcher)
        await broker.start()
        worker = asyncio.create_task(dispatcher.run(), name="webhook-attempts")
        app.state.runtime = Runtime(cfg.tokens, dispatcher, feed.ready.is_set)
        try:
            yield
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            await broker.stop()
            await feed.stop()
            await sender.close()

    return build_app(lifespan)
