"""A member's pages: their account and balance, their keys, their usage, their requests.

Everything a member does goes to billing's ``/v1/me`` with their own session token, so
billing decides what they may do (developer access, their own keys only). Their usage and
request lookups are read from metering with the console's token, and only for the
account billing says is theirs.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ..adapters.backends import BackendError
from .pages import (
    backends,
    call_as,
    form,
    not_found,
    render,
    request_trail,
    rid,
    safe_id,
    settings,
    text,
    viewer,
)
from .usage_view import days_asked, period, usage_context, webhooks_context

__all__ = ["router"]

router = APIRouter()


@router.get("/me")
async def account(request: Request) -> Response:
    me = await viewer(request, "member")
    days = 90
    context: dict[str, Any] = {"me": me.me, "days": days}
    try:
        found = await backends(request).call(
            "metering",
            "GET",
            f"/v1/accounts/{me.account_id}/statement",
            settings(request).service_token,
            params=period(days),
            rid=rid(request),
        )
        entries = [e for e in found.body["entries"] if e["kind"] == "top_up"]
        context["topups"] = entries[-10:][::-1]
    except BackendError as exc:
        context["topups_error"] = exc.message
    return render(request, "me.html", "Account", me, **context)


@router.post("/me/access")
async def ask_access(request: Request) -> Response:
    me = await viewer(request, "member")
    note = text(await form(request), "note")
    await call_as(
        request, me, "billing", "POST", "/v1/me/developer-access", {"note": note} if note else {}
    )
    return RedirectResponse("/me?done=access_requested", 303)


async def _keys_page(request: Request, status: int = 200, **context: Any) -> Response:
    me = await viewer(request, "member")
    keys = await call_as(request, me, "billing", "GET", "/v1/me/keys")
    approved = me.me["developer_access"] == "approved"
    return render(
        request,
        "keys.html",
        "API keys",
        me,
        status,
        keys=keys["data"],
        key_action="/me/keys",
        can_create=approved,
        cannot_create="Creating keys needs developer access: ask for it on your account page.",
        **context,
    )


@router.get("/me/keys")
async def keys(request: Request) -> Response:
    return await _keys_page(request)


def key_body(given: Any) -> dict[str, Any]:
    """A key's form as billing's key body (billing checks every value)."""
    body: dict[str, Any] = {"name": text(given, "name", 100)}
    limit = text(given, "spend_limit_usd", 30)
    if limit:
        body |= {"spend_limit_usd": limit, "spend_period": text(given, "spend_period", 10)}
    models = [m.strip() for m in text(given, "allowed_models", 2000).split(",") if m.strip()]
    if models:
        body["allowed_models"] = models
    return body


@router.post("/me/keys")
async def create_key(request: Request) -> Response:
    me = await viewer(request, "member")
    body = key_body(await form(request))
    try:
        made = await call_as(request, me, "billing", "POST", "/v1/me/keys", body)
    except BackendError as exc:
        if exc.status >= 500:
            raise
        return await _keys_page(
            request, exc.status, error=exc.message, error_request_id=exc.request_id
        )
    return await _keys_page(
        request, 201, secret=made["secret"], heading=f"Key “{body['name']}” created"
    )


@router.post("/me/keys/{key_id}/rotate")
async def rotate_key(request: Request, key_id: str) -> Response:
    me = await viewer(request, "member")
    await form(request)
    path = f"/v1/me/keys/{safe_id(key_id)}/rotate"
    made = await call_as(request, me, "billing", "POST", path, {})
    return await _keys_page(request, secret=made["secret"], heading="Key rotated: its new secret")


@router.post("/me/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str) -> Response:
    me = await viewer(request, "member")
    await form(request)
    await call_as(request, me, "billing", "DELETE", f"/v1/me/keys/{safe_id(key_id)}")
    return RedirectResponse("/me/keys?done=key_revoked", 303)


@router.get("/me/usage")
async def usage(request: Request) -> Response:
    me = await viewer(request, "member")
    keys = await call_as(request, me, "billing", "GET", "/v1/me/keys")
    context = await usage_context(
        request, me.account_id, settings(request).service_token, days_asked(request), keys["data"]
    )
    return render(request, "usage.html", "Usage", me, account=me.me["account"], **context)


@router.get("/me/requests")
async def lookup(request: Request) -> Response:
    me = await viewer(request, "member")
    asked = request.query_params.get("request_id", "").strip()[:100]
    context: dict[str, Any] = {"heading": "Your requests", "request_id_query": asked}
    if asked:
        trail = await request_trail(request, asked, settings(request).service_token)
        if trail["account_id"] != me.account_id:
            raise not_found(asked)  # as an unknown id: another account's ids are not confirmed
        context["trail"] = trail
    return render(request, "lookup.html", "Requests", me, **context)


@router.get("/me/alerts")
async def alerts(request: Request) -> Response:
    me = await viewer(request, "member")
    hooks = await webhooks_context(request, me.account_id, settings(request).service_token)
    return render(request, "alerts.html", "Alerts", me, **hooks)
