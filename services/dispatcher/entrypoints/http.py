"""The dispatcher's API: health, and each webhook's delivery log (admin tokens: operator or
support scope)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from schemas.admin_access import AccessDenied
from schemas.admin_api import admin_app, denied, json_response

if TYPE_CHECKING:
    from ..bootstrap import Runtime

__all__ = ["build_app"]

log = logging.getLogger("tollway.dispatcher.api")
router = APIRouter()


@router.get("/v1/webhooks/{webhook_id}/deliveries")
async def deliveries(request: Request, webhook_id: str) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        runtime.tokens.authorize(request.headers.get("authorization", ""), "operator", "support")
    except AccessDenied as refusal:
        raise denied(refusal) from None
    return json_response({"data": runtime.dispatcher.log_of(webhook_id)})


@router.get("/healthz")
async def healthz(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    ready = runtime.ready()
    state = {"status": "ok" if ready else "starting"} | runtime.stats()
    return json_response(state, 200 if ready else 503)


def build_app(lifespan: Any = None) -> FastAPI:
    return admin_app("Tollway webhook dispatcher", router, lifespan, log)
