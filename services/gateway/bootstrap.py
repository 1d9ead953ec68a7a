"""Wires the gateway: settings -> stores, catalog, adapters -> the FastAPI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from .adapters.events import EventSink
from .adapters.reports import UsageReports
from .adapters.shared_limits import SharedLimits
from .adapters.spool import Spool
from .adapters.state_feed import StateFeed
from .adapters.upstream import Upstream
from .domain import catalog as catalog_module
from .domain.admission import AccountStore, KeyStore
from .domain.ratelimit import RateLimiter
from .entrypoints.http import Runtime, build_app
from .service_layer.context import Deps
from .settings import GatewaySettings

__all__ = ["create_app"]


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    cfg = settings or GatewaySettings()
    catalog = catalog_module.load(cfg.catalog)  # fail at start, not on the first request
    runtime = Runtime()
    runtime.max_body_bytes = cfg.max_body_bytes

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keys, accounts = KeyStore(), AccountStore()
        sink = EventSink(cfg.kafka_bootstrap, Spool(cfg.spool_dir), linger_ms=cfg.events_linger_ms)
        feed = StateFeed(cfg.kafka_bootstrap, keys, accounts)
        upstream = Upstream()
        reports = UsageReports(cfg.metering_url, cfg.admin_token)
        limiter = RateLimiter(shared=cfg.limits_report_ms > 0)
        shared = (
            SharedLimits(
                cfg.kafka_bootstrap, limiter, sink.producer, interval_s=cfg.limits_report_ms / 1000
            )
            if cfg.limits_report_ms > 0
            else None
        )
        runtime.deps = Deps(
            catalog=catalog,
            keys=keys,
            accounts=accounts,
            limiter=limiter,
            upstream=upstream,
            events=sink,
            reports=reports,
            refuse_when_backlog_older_than_s=cfg.refuse_when_backlog_older_than_s,
        )
        runtime.ready = lambda: feed.ready

        def status() -> dict[str, Any]:
            return {
                "keys": len(keys),
                "accounts": len(accounts),
                "events_sent": sink.sent,
                "events_queued": sink.queued,
                "events_spooled": sink.degraded,
                "spool_backlog_s": round(sink.backlog_age(), 3),
                "limit_reports_sent": shared.sent if shared else 0,
                "limit_reports_applied": shared.applied if shared else 0,
                "limit_requests_reported": shared.requests_sent if shared else 0,
                "limit_requests_applied": shared.requests_applied if shared else 0,
                "limit_keys_unreported": limiter.unreported,
            }

        runtime.status = status
        app.state.sink, app.state.feed = sink, feed
        await sink.start()
        await feed.start()
        if shared is not None:
            await shared.start()
        try:
            yield
        finally:
            if shared is not None:
                await shared.stop()
            await feed.stop()
            await sink.stop()
            await upstream.close()
            await reports.close()

    return build_app(runtime, lifespan)
