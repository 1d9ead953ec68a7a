"""Billing's admin API: accounts, keys, top-ups, adjustments, prices. Every call carries an
admin token (``schemas.admin_access``) whose scope allows it; every change is a command on
``tollway.billing-commands``, naming the token that made it, and the API answers with
billing's result once its effect is readable (or 202 with the command id, if billing has
not answered within ``COMMAND_WAIT_S``). Routes parse, call the service layer, map errors.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from schemas.admin_api import admin_app, json_response

from ..service_layer import admin, commands, webhooks
from ..service_layer.admin import AdminRuntime
from .bodies import (
    AccountIn,
    AdjustIn,
    KeyIn,
    PlanIn,
    PriceIn,
    ReactivateIn,
    ReasonIn,
    TopUpIn,
    WebhookIn,
    parse,
)
from .common import body, caller, command, key_created, key_rotated, plan_of, runtime
from .members_http import router as members_router

__all__ = ["build_app"]

log = logging.getLogger("tollway.billing.admin")
router = APIRouter()


@router.post("/v1/accounts")
async def create_account(request: Request) -> Response:
    actor = caller(request, "operator").name
    given = parse(AccountIn, await body(request))
    plan = plan_of(request, given.plan)
    event = commands.create_account(given.name, plan, given.idempotency_key, actor)
    return await command(request, event, created=True, extra={"account_id": event.account_id})


@router.get("/v1/accounts")
async def list_accounts(request: Request) -> Response:
    caller(request, "support")
    return json_response(
        {"data": [admin.account_view(s) for s in runtime(request).view.accounts.values()]}
    )


@router.get("/v1/accounts/{account_id}")
async def show_account(request: Request, account_id: str) -> Response:
    caller(request, "support")
    status = admin.known(runtime(request), account_id)
    keys = [admin.key_view(k) for k in runtime(request).view.keys_of(account_id)]
    return json_response(admin.account_view(status) | {"keys": keys})


@router.get("/v1/accounts/{account_id}/balance")
async def balance(request: Request, account_id: str) -> Response:
    caller(request, "support")
    return json_response(admin.account_view(admin.known(runtime(request), account_id)))


@router.post("/v1/accounts/{account_id}/suspend")
async def suspend(request: Request, account_id: str) -> Response:
    actor = caller(request, "operator").name
    admin.known(runtime(request), account_id)
    given = parse(ReasonIn, await body(request))
    event = commands.suspend(account_id, given.reason, given.idempotency_key, actor)
    return await command(request, event)


@router.post("/v1/accounts/{account_id}/plan")
async def change_plan(request: Request, account_id: str) -> Response:
    actor = caller(request, "operator").name
    admin.known(runtime(request), account_id)
    given = parse(PlanIn, await body(request))
    plan = plan_of(request, given.plan)
    event = commands.change_plan(account_id, plan, given.reason, given.idempotency_key, actor)
    return await command(request, event, extra={"plan": plan.model_dump()})


@router.post("/v1/accounts/{account_id}/reactivate")
async def reactivate(request: Request, account_id: str) -> Response:
    actor = caller(request, "operator").name
    admin.known(runtime(request), account_id)
    given = parse(ReactivateIn, await body(request))
    return await command(request, commands.reactivate(account_id, given.idempotency_key, actor))


@router.post("/v1/accounts/{account_id}/keys")
async def create_key(request: Request, account_id: str) -> Response:
    actor = caller(request, "operator").name
    admin.known(runtime(request), account_id)
    given = parse(KeyIn, await body(request))
    return await key_created(request, account_id, given, actor)


@router.get("/v1/accounts/{account_id}/keys")
async def list_keys(request: Request, account_id: str) -> Response:
    caller(request, "support")
    admin.known(runtime(request), account_id)
    return json_response(
        {"data": [admin.key_view(k) for k in runtime(request).view.keys_of(account_id)]}
    )


@router.post("/v1/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str) -> Response:
    actor = caller(request, "operator").name
    record = admin.live_key(admin.known_key(runtime(request), key_id))
    return await command(request, commands.revoke_key(record, actor))


@router.post("/v1/keys/{key_id}/rotate")
async def rotate_key(request: Request, key_id: str) -> Response:
    actor = caller(request, "operator").name
    record = admin.live_key(admin.known_key(runtime(request), key_id))
    return await key_rotated(request, record, actor)


@router.post("/v1/accounts/{account_id}/top-ups")
async def top_up(request: Request, account_id: str) -> Response:
    actor = caller(request, "operator").name
    admin.known(runtime(request), account_id)
    given = parse(TopUpIn, await body(request))
    event = commands.top_up(account_id, given.amount_usd, given.idempotency_key, actor)
    return await command(request, event, created=True)


@router.post("/v1/accounts/{account_id}/adjustments")
async def adjust(request: Request, account_id: str) -> Response:
    actor = caller(request, "operator").name
    admin.known(runtime(request), account_id)
    given = parse(AdjustIn, await body(request))
    event = commands.adjust(
        account_id, given.amount_usd, given.reason, given.refund, given.idempotency_key, actor
    )
    return await command(request, event, created=True)


@router.post("/v1/accounts/{account_id}/webhooks")
async def add_webhook(request: Request, account_id: str) -> Response:
    actor = caller(request, "operator").name
    given = parse(WebhookIn, await body(request))
    added = await webhooks.register(runtime(request), account_id, given.url, given.events, actor)
    return json_response(added, 201)


@router.get("/v1/accounts/{account_id}/webhooks")
async def list_webhooks(request: Request, account_id: str) -> Response:
    caller(request, "support")
    return json_response({"data": webhooks.listed(runtime(request), account_id)})


@router.delete("/v1/webhooks/{webhook_id}")
async def delete_webhook(request: Request, webhook_id: str) -> Response:
    actor = caller(request, "operator").name
    return json_response(await webhooks.delete(runtime(request), webhook_id, actor))


@router.get("/v1/prices")
async def list_prices(request: Request) -> Response:
    caller(request, "support")
    return json_response({"data": admin.prices_view(runtime(request))})


@router.put("/v1/prices/{model}")
async def set_price(request: Request, model: str) -> Response:
    caller(request, "operator")
    given = parse(PriceIn, await body(request))
    per_mtok = (given.input, given.output, given.cache_read, given.cache_write)
    return json_response(
        await admin.set_price(runtime(request), model, per_mtok, given.effective_from)
    )


@router.get("/v1/audit")
async def audit(request: Request) -> Response:
    caller(request, "operator")
    account = request.query_params.get("account_id")
    return json_response({"data": runtime(request).view.audit(account)})


@router.get("/healthz")
async def healthz(request: Request) -> Response:
    rt = runtime(request)
    if not rt.healthy():
        return json_response({"status": "stuck", "service": "billing", **rt.stats()}, 503)
    return json_response({"status": "ok", "service": "billing", **rt.stats()})


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    rt = runtime(request)
    ready = rt.ready()
    return json_response({"ready": ready, **rt.stats()}, 200 if ready else 503)


router.include_router(members_router)


def build_app(rt: AdminRuntime, lifespan: Any = None) -> FastAPI:
    app = admin_app("Tollway billing admin", router, lifespan, log)
    app.state.runtime = rt
    return app
