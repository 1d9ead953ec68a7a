"""Metering's reporting API: support lookup, usage, finance report, reconciliation.

An admin token with the right scope (``schemas.admin_access``): ``support`` for request
trails, ``finance`` for reports and reconciliation, either for an account's usage. Routes
parse and call the service layer; errors are rendered by ``schemas.admin_api``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from schemas.admin_access import AccessDenied
from schemas.admin_api import admin_app, denied, json_response

from ..domain.periods import period
from ..errors import BadRequest
from ..service_layer import reports
from .exports import EXPORTS, csv_response

if TYPE_CHECKING:
    from ..bootstrap import Runtime

__all__ = ["build_app"]

log = logging.getLogger("tollway.metering.api")
router = APIRouter()


def _runtime(request: Request, *scopes: str) -> Runtime:
    """The runtime, once the caller's token is found to hold one of ``scopes``."""
    runtime: Runtime = request.app.state.runtime
    try:
        runtime.tokens.authorize(request.headers.get("authorization", ""), *scopes)
    except AccessDenied as refusal:
        raise denied(refusal) from None
    return runtime


def _period(request: Request) -> tuple[datetime, datetime]:
    query = request.query_params
    return period(query.get("from"), query.get("to"), datetime.now(UTC))


@router.get("/v1/requests/{request_id}")
async def lookup(request: Request, request_id: str) -> Response:
    rt = _runtime(request, "support")
    return json_response(await reports.trail(rt.reports, request_id))


@router.get("/v1/usage/{account_id}")
async def usage(request: Request, account_id: str) -> Response:
    rt = _runtime(request, "support", "finance")
    start, end = _period(request)
    by = request.query_params.get("by", "model")
    return json_response(await reports.account_usage(rt.reports, account_id, start, end, by))


@router.get("/v1/accounts/{account_id}/statement")
async def statement(request: Request, account_id: str) -> Response:
    rt = _runtime(request, "finance", "support")
    start, end = _period(request)
    fmt = request.query_params.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("format must be json or csv.", "format")
    found = await reports.account_statement(rt.reports, account_id, start, end)
    return json_response(found) if fmt == "json" else csv_response(found["entries"])


@router.get("/v1/reports/finance")
async def finance(request: Request) -> Response:
    rt = _runtime(request, "finance")
    start, end = _period(request)
    group_by = [g for g in request.query_params.get("group_by", "day").split(",") if g]
    export = EXPORTS.get(request.query_params.get("format", "json"))
    if export is None:
        raise BadRequest("format must be json, csv or parquet.", "format")
    return export(await reports.finance_report(rt.reports, start, end, group_by))


@router.get("/v1/reconcile")
async def reconcile(request: Request) -> Response:
    rt = _runtime(request, "finance")
    start, end = _period(request)
    account = request.query_params.get("account_id")
    return json_response(await reports.reconciliation(rt.reports, start, end, account))


@router.get("/healthz")
async def healthz(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    healthy, state = await runtime.health()
    return json_response(state, 200 if healthy else 503)


def build_app(lifespan: Any = None) -> FastAPI:
    return admin_app("Tollway metering", router, lifespan, log)
