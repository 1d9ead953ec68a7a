"""Wires the console: its settings and one HTTP client for the services it reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .adapters.backends import Backends
from .entrypoints.http import build_app
from .settings import ConsoleSettings

__all__ = ["create_app"]


def create_app(settings: ConsoleSettings | None = None) -> FastAPI:
    cfg = settings or ConsoleSettings()
    urls = {
        "billing": cfg.billing_url,
        "metering": cfg.metering_url,
        "gateway": cfg.gateway_url,
        "dispatcher": cfg.dispatcher_url,
    }

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.backends = Backends(urls)
        try:
            yield
        finally:
            await app.state.backends.close()

    app = build_app(lifespan)
    app.state.settings = cfg
    return app
