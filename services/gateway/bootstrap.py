"""Wires the gateway: settings -> stores, catalog, adapters -> the FastAPI app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from .adapters import catalog_file
from .adapters.events import EventPublisher
from .adapters.members_api import MembersApi
from .adapters.metrics import PrometheusMetrics, watch_spool
from .adapters.reports import UsageReports
from .adapters.shared_limits import SharedLimits
from .adapters.spool import Spool
from .adapters.upstream import HttpUpstream
from .domain.ratelimit import RateLimiter
from .domain.standing import AccountStore, KeyStore
from .entrypoints.http import Runtime, build_app
from .entrypoints.state_feed import state_feed
from .service_layer.context import Deps
from .service_layer.ports import NoMetrics
from .settings import GatewaySettings

__all__ = ["create_app"]


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    cfg = settings or GatewaySettings()
    catalog = catalog_file.load(cfg.catalog)  # fail at start, not on the first request
    runtime = Runtime()
    runtime.max_body_bytes = cfg.max_body_bytes
    runtime.body_timeout_s = cfg.body_timeout_s
    runtime.zdr_headers = cfg.zdr_headers
    runtime.metrics_token = cfg.service_token

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        publisher = EventPublisher(
            cfg.kafka_bootstrap, Spool(cfg.spool_dir), linger_ms=cfg.events_linger_ms
        )
        spool_gauges = asyncio.create_task(watch_spool(publisher), name="spool-gauges")
        runtime.spool = publisher
        keys, accounts = KeyStore(), AccountStore(producer=publisher.producer_id)
        prices = catalog.price_book()
        feed = state_feed(cfg.kafka_bootstrap, keys, accounts, prices)
        upstream = HttpUpstream()
        reports = UsageReports(cfg.metering_url, cfg.service_token) if cfg.service_token else None
        limiter = RateLimiter(shared=cfg.limits_report_ms > 0)
        shared = (
            SharedLimits(
                cfg.kafka_bootstrap,
                limiter,
                publisher.producer_id,
                interval_s=cfg.limits_report_ms / 1000,
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
            events=publisher,
            prices=prices,
            metrics=PrometheusMetrics() if cfg.metrics else NoMetrics(),
            reports=reports,
            refuse_when_backlog_older_than_s=cfg.refuse_when_backlog_older_than_s,
        )
        runtime.ready = feed.ready.is_set
        runtime.members = MembersApi(cfg.billing_url)

        def status() -> dict[str, Any]:
            return {
                "keys": len(keys),
                "accounts": len(accounts),
                "events_sent": publisher.sent,
                "events_queued": publisher.queued,
                "events_spooling": publisher.spooling,
                "spool_backlog_s": round(publisher.backlog_age(), 3),
                "limit_reports_sent": shared.sent if shared else 0,
                "limit_reports_applied": shared.applied if shared else 0,
                "limit_requests_reported": shared.requests_sent if shared else 0,
                "limit_requests_applied": shared.requests_applied if shared else 0,
                "limit_keys_unreported": limiter.unreported,
            }

        runtime.status = status
        # Told in the log at startup, not at a key holder's first GET /v1/usage.
        token_check = asyncio.create_task(reports.check_token()) if reports else None
        await publisher.start()
        await feed.start()
        if shared is not None:
            await shared.start()
        try:
            yield
        finally:
            if shared is not None:
                await shared.stop()
            await feed.stop()
            await publisher.stop()
            spool_gauges.cancel()
            if token_check is not None:
                token_check.cancel()
            await upstream.close()
            if reports is not None:
                await reports.close()
            await runtime.members.close()

    return build_app(runtime, lifespan)
